"""status tells the whole truth, and a pull that cannot write the working tree leaves it
as it was and recovers on its own once the cause is gone."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.core.conftest import Run, git
from tests.core.test_push import NODES

CLUSTER = "minimal-aws.example.com"


def test_status_shows_objects_deleted_in_the_store(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    (store / NODES).unlink()
    status = cli("status", cwd=repo)
    assert "store ahead: 1" in status.out and NODES in status.out, status.out


def test_status_fails_on_a_lock_push_would_refuse(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    (store / ".kops-gitsync.lock").write_text("{not json")
    status = cli("status", cwd=repo)
    assert status.code == 1 and "cannot be read" in status.out, status.out


def _immutable(paths: list[Path]) -> Iterator[None]:
    """chattr +i: the only way to make a file unwritable for root (tests run as root)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed (e2fsprogs)")
    done = []
    try:
        for path in paths:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
                pytest.skip(f"this file system does not support chattr +i ({path})")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.parametrize("local_commit", [False, True], ids=["fast-forward", "merge"])
def test_a_pull_that_cannot_write_the_tree_leaves_it_as_it_was_and_recovers(
    pulled: tuple[Path, Path], cli: Callable[..., Run], local_commit: bool
) -> None:
    repo, store = pulled
    if local_commit:
        (repo / "README.md").write_text("notes\n")
        git(repo, "commit", "-qam", "local work")
    head = git(repo, "rev-parse", "HEAD")
    text = (store / NODES).read_text()
    (store / NODES).write_text(text.replace("maxSize: 2", "maxSize: 4"))
    folder = repo / "state" / CLUSTER / "instancegroup"
    with _immutable_ctx([folder / "nodes", folder]):
        failed = cli("pull", cwd=repo)
        assert failed.code == 1 and "Traceback" not in failed.err
        assert git(repo, "status", "--porcelain") == ""
        assert git(repo, "rev-parse", "HEAD") == head
    again = cli("pull", cwd=repo)
    assert again.code == 0, again.err
    assert "maxSize: 4" in (folder / "nodes").read_text()
    assert git(repo, "status", "--porcelain") == ""


def _immutable_ctx(paths: list[Path]):  # type: ignore[no-untyped-def]
    import contextlib

    return contextlib.contextmanager(_immutable)(paths)


def test_a_pull_commit_missing_mirrored_objects_is_refused(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If git ever leaves out a path (a name it will not track), nothing is recorded: a sync
    state claiming objects the tree lacks would make the next push delete them."""
    from kops_gitsync.gitrepo.repo import GitRepo

    store = make_store("minimal-aws")
    real = GitRepo.build_tree

    def dropping(self: GitRepo, base: str | None, changes: dict[str, str | None]) -> str:
        kept = {p: s for p, s in changes.items() if not p.endswith("instancegroup/nodes")}
        return real(self, base, kept)

    monkeypatch.setattr(GitRepo, "build_tree", dropping)
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1 and "did not keep 1" in result.err and "nodes" in result.err
    assert git(repo, "for-each-ref", "refs/kops-gitsync") == ""


def test_status_refuses_like_push_when_the_store_url_was_redirected(
    pulled: tuple[Path, Path], cli: Callable[..., Run], make_store: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _store = pulled
    other = make_store("minimal_gce")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{other}")
    status = cli("status", "--state", f"file://{other}", cwd=repo)
    assert status.code == 1 and "was mirrored from" in status.out + status.err, status.out
    push = cli("push", "--state", f"file://{other}", cwd=repo)
    assert push.code == 1
