"""hooks/index_listing.py gives exactly the answers of a fully parsed index (gitrepo/reader.py),
on a real index holding what could fool a text search: a path that ends with another path
after a tab, a folder whose name starts with another's, a conflicted path (stages 1 to 3),
a submodule, ``config`` files at several depths and at the root."""

from __future__ import annotations

import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from kops_gitsync.gitrepo.reader import GitReader
from kops_gitsync.hooks import index_listing
from kops_gitsync.hooks.index_listing import HookReader

FILES = {
    "config": b"root\n",
    "a/config": b"a\n",
    "a/instancegroup/nodes": b"n\n",
    "a/instancegroup/x\ta/config": b"tab\n",
    "ab/config": b"ab\n",
    "ab/instancegroup/nodes": b"abn\n",
    "deep/er/c1/config": b"deep\n",
    "b": b"b\n",
    "x\tb": b"xb\n",
    "zz/config.bak": b"bak\n",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for rel, data in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    (repo / "c/config").parent.mkdir()
    (repo / "c/config").write_bytes(b"base\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},a/sub")
    _git(repo, "commit", "-q", "-m", "submodule")
    _git(repo, "switch", "-q", "-c", "other")
    (repo / "c/config").write_bytes(b"theirs\n")
    _git(repo, "commit", "-q", "-am", "theirs")
    _git(repo, "switch", "-q", "main")
    (repo / "c/config").write_bytes(b"ours\n")
    _git(repo, "commit", "-q", "-am", "ours")
    subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True, check=False)
    assert "c/config" in _git(repo, "ls-files", "-u")  # stages 1, 2, 3: no stage-0 entry
    return repo


PROBES = [*FILES, "c/config", "a/sub", "a", "config.bak", "x", "instancegroup/nodes", "absent",
          "a/instancegroup/x", "x\ta/config"]


@pytest.mark.parametrize("first", ["lookups", "parsed"])
def test_same_answers_as_a_parsed_index(repo: Path, first: str) -> None:
    with GitReader(repo) as plain, closing(HookReader(repo)) as hook:
        full = plain.index
        if first == "parsed":
            assert hook.index == full  # then every answer comes from the dict
        for path in PROBES:
            assert hook.index_id(path) == full.get(path), path
        for folders in (["a"], ["ab"], ["a", "ab"], ["deep"], ["deep/er/c1"], ["c"], ["none"],
                        ["x\ta"]):
            want = {p: s for p, s in full.items() if p.startswith(tuple(f + "/" for f in folders))}
            assert hook.index_under(folders) == want, folders
        assert hook.index_ending("/config") == {p: s for p, s in full.items()
                                                if p.endswith("/config")}
        assert hook.index_blobs(PROBES) == plain.index_blobs(PROBES)
        assert hook.index == full


def test_many_lookups_parse_the_listing_once(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge or a whole-repository run asks for thousands of paths: past a few dozen
    searches of the text, the dict is built and answers the rest."""
    monkeypatch.setattr(index_listing, "_LOOKUPS", 3)
    with closing(HookReader(repo)) as hook:
        for path in PROBES:
            hook.index_id(path)
        assert hook._index is not None
