"""A store that tries to steer git or the terminal: refused before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.conftest import Run, git

CLUSTER = "c.example.com"


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[[str], Path]:
    """A small file:// store of one cluster, written here (no shared fixture needed)."""

    def make(name: str = "small") -> Path:
        root = tmp_path / f"store-{name}"
        (root / CLUSTER / "instancegroup").mkdir(parents=True)
        (root / CLUSTER / "config").write_text(
            f"apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: {CLUSTER}\n")
        (root / CLUSTER / "instancegroup" / "nodes").write_text(
            "apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\nmetadata:\n  name: nodes\n")
        return root

    return make


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref") + git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (".gitattributes", b"* merge=union\n"),  # would replace the YAML merge driver
        (".gitignore", b"instancegroup/*\n"),  # would hide a reviewer's new IG from git add -A
        (".GITATTRIBUTES", b"* -diff\n"),
        (".mailmap", b"Evil <evil@example.com> <author@example.com>\n"),
        ("instancegroup/.gitmodules", b"[submodule \"x\"]\n"),
    ],
)
def test_git_control_files_in_the_store_stop_the_pull(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path], name: str,
    content: bytes,
) -> None:
    store = make_store("small")
    (store / CLUSTER / name).write_bytes(content)
    before = refs(repo)
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1, result.err
    assert "cannot be mirrored safely" in result.err and name in result.err
    assert refs(repo) == before
    assert not list(repo.rglob(name))


def test_a_key_with_a_newline_cannot_forge_an_output_line(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    store = make_store("small")
    (store / CLUSTER / "x\nkops-gitsync pull: everything is fine").write_bytes(b"x")
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1
    assert result.err.count("\n") == 1, result.err


def test_a_fifo_in_a_file_store_is_skipped_not_waited_for(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    import os
    import threading

    store = make_store("small")
    os.mkfifo(store / CLUSTER / "pipe")
    outcome: list[Run] = []
    thread = threading.Thread(
        target=lambda: outcome.append(cli("pull", "--state", f"file://{store}", cwd=repo)),
        daemon=True,
    )
    thread.start()
    thread.join(30)
    if thread.is_alive():
        with open(store / CLUSTER / "pipe", "wb"):  # unblock the reader so the run can end
            pass
        pytest.fail("pull blocked on a FIFO in the store")
    result = outcome[0]
    assert result.code == 0, result.err
    assert f"{CLUSTER}/pipe" in result.err and "FIFO" in result.err
    assert (repo / "state" / CLUSTER / "config").is_file()
    assert not (repo / "state" / CLUSTER / "pipe").exists()
