"""gitrepo/reader.py against a real repository: one process per kind of read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.reader import GitReader


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_index_trees_and_files_of_commits(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    files = {"a/config": b"one\n", "a/instancegroup/n o": b"two\n", "b/x": b"\x00\xff" * 40000}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "a/config").write_bytes(b"changed\n")
    _git(tmp_path, "add", "a/config")
    with GitReader(tmp_path) as reader:
        assert sorted(reader.index) == sorted(files)
        assert reader.index_blobs(["a/config", "b/x", "absent"]) == {
            "a/config": b"changed\n",
            "b/x": files["b/x"],  # larger than a pipe's buffer
        }
        assert sorted(reader.tree("HEAD", ["a"])) == ["a/config", "a/instancegroup/n o"]
        assert reader.tree_blobs("HEAD", ["a/config"]) == {"a/config": b"one\n"}
        assert reader.show("HEAD", "a/instancegroup/n o") == b"two\n"
        assert reader.show("HEAD", "absent") is None
        assert reader.show("HEAD", "a") is None  # a folder is no file
        assert reader.tree(None) == {}
        with pytest.raises(FatalError, match="missing"):
            reader.blobs(["0" * 40])
