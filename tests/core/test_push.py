"""push, end to end: what reaches the store, what is refused, what survives a kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.core.conftest import Run, git, snapshot

NODES = "minimal-aws.example.com/instancegroup/nodes"
MASTER = "minimal-aws.example.com/instancegroup/master-us-test-1a"
CONFIG = "minimal-aws.example.com/config"


def edit(repo: Path, key: str, old: str, new: str, message: str) -> None:
    path = repo / "state" / key
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(repo, "commit", "-qam", message)


def test_dry_run_writes_nothing_and_yes_writes_exactly_the_edit(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    before = snapshot(store)
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "nodes: maxSize 5")

    dry = cli("push", cwd=repo)
    assert dry.code == 0
    assert f"update {NODES}" in dry.out and "dry run" in dry.out
    assert snapshot(store) == before

    applied = cli("push", "--yes", cwd=repo)
    assert applied.code == 0, applied.err
    after = snapshot(store)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES]
    assert not (store / LOCK_KEY).exists()

    assert "up to date" in cli("pull", cwd=repo).out


def test_consecutive_pushes_from_one_branch_without_pull(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    for size in (5, 6, 7):
        edit(repo, NODES, f"maxSize: {size - 1 if size > 5 else 2}", f"maxSize: {size}", f"{size}")
        result = cli("push", "--yes", cwd=repo)
        assert result.code == 0, result.err
        assert f"maxSize: {size}".encode() in (store / NODES).read_bytes()
    pull = cli("pull", cwd=repo)
    assert pull.code == 0, pull.err
    assert git(repo, "status", "--porcelain") == ""
    assert "maxSize: 7" in (repo / "state" / NODES).read_text()


def test_concurrent_store_edit_of_same_object_is_a_conflict(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "git side")
    edit(repo, MASTER, "maxSize: 1", "maxSize: 1\n# note", "second object")
    (store / NODES).write_text((store / NODES).read_text().replace("maxSize: 2", "maxSize: 9"))
    before = snapshot(store)

    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1
    assert "stopped before writing anything" in result.err
    assert f"{NODES}: changed in the store and in git" in result.err
    assert snapshot(store) == before


def test_store_only_change_elsewhere_survives(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "git side")
    store_master = (store / MASTER).read_text() + "# edited with kops edit ig\n"
    (store / MASTER).write_text(store_master)

    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0, result.err
    assert "left alone: 1" in result.out
    assert (store / MASTER).read_text() == store_master
    assert b"maxSize: 5" in (store / NODES).read_bytes()


def test_create_and_delete_instance_groups(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    ig_dir = repo / "state/minimal-aws.example.com/instancegroup"
    (ig_dir / "spot").write_text(
        (ig_dir / "nodes").read_text().replace("name: nodes", "name: spot")
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add spot")
    assert cli("push", "--yes", cwd=repo).code == 0
    assert (store / "minimal-aws.example.com/instancegroup/spot").exists()

    git(repo, "rm", "-q", "state/minimal-aws.example.com/instancegroup/spot")
    git(repo, "commit", "-qm", "remove spot")
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0, result.err
    assert "1 deleted" in result.out
    assert not (store / "minimal-aws.example.com/instancegroup/spot").exists()


def test_derived_edits_are_not_pushed_and_secrets_never_touched(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    before = snapshot(store)
    edit(repo, "minimal-aws.example.com/kops-version.txt", "1.", "9.", "derived edit")
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0
    assert "not pushed (derived/secret/excluded)" in result.out
    assert snapshot(store) == before


def test_unapproved_branch_is_refused(pulled: tuple[Path, Path], cli: Callable[..., Run]) -> None:
    repo, store = pulled
    git(repo, "checkout", "-qb", "feature/bigger-nodes")
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "unreviewed")
    before = snapshot(store)
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1
    assert "'feature/bigger-nodes' is not approved" in result.err and "main" in result.err
    assert snapshot(store) == before


def test_approved_branch_patterns_from_config(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n  - name: default\n    state: file://{store}\n    path: state\n"
        "    approved_branches: ['release/*']\n"
    )
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "config")
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "on main")
    assert "not approved" in cli("push", "--yes", cwd=repo).err
    git(repo, "checkout", "-qb", "release/2026-11")
    assert cli("push", "--yes", cwd=repo).code == 0


def test_empty_tree_guard(pulled: tuple[Path, Path], cli: Callable[..., Run]) -> None:
    repo, store = pulled
    before = snapshot(store)
    git(repo, "rm", "-rq", "state")
    git(repo, "commit", "-qm", "oops")
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1 and "empty mirror" in result.err
    assert snapshot(store) == before


def test_max_delete_guard(pulled: tuple[Path, Path], cli: Callable[..., Run]) -> None:
    repo, store = pulled
    git(repo, "rm", "-q", f"state/{NODES}", f"state/{MASTER}")
    git(repo, "commit", "-qm", "two deletions")
    before = snapshot(store)
    # deleting both groups breaks the cluster: skip the kops checks to reach the guard
    result = cli("push", "--yes", "--max-delete", "1", "--skip-validation", cwd=repo)
    assert result.code == 1 and "would delete 2 objects" in result.err
    assert snapshot(store) == before
    assert cli("push", "--yes", "--max-delete", "2", "--skip-validation", cwd=repo).code == 0
    assert not (store / NODES).exists()


def test_symlink_in_mirror_is_refused(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    repo, store = pulled
    outside = tmp_path / "outside-secret"
    outside.write_text("not for the store\n")
    link = repo / "state/minimal-aws.example.com/instancegroup/linked"
    os.symlink(outside, link)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "symlink")
    before = snapshot(store)
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1 and "symbolic link" in result.err
    assert snapshot(store) == before


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from kops_gitsync.vfs import file as backend
    real_write = backend.FileStore.write
    def write(self, key, data, **kw):
        version = real_write(self, key, data, **kw)
        if not key.endswith("kops-gitsync.lock"):
            os.kill(os.getpid(), signal.SIGKILL)  # between the first and second write
        return version
    backend.FileStore.write = write
    from kops_gitsync.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def push_killed_after_first_write(repo: Path, tmp_path: Path) -> None:
    """Commit two IG edits and run ``push --yes`` in a process SIGKILLed after one write."""
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "first")
    edit(repo, MASTER, "maxSize: 1", "maxSize: 1\n# second", "second")
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run(
        [sys.executable, str(script), "push", "--yes"],
        cwd=repo,
        capture_output=True,
        # one write at a time, so that exactly one lands (parallel: test_push_parallel.py)
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]),
             "KOPS_GITSYNC_PUSH_WORKERS": "1"},
    )
    assert proc.returncode == -9


@pytest.mark.parametrize("resume_with", ["push", "pull"])
def test_killed_push_is_finished_by_the_next_run(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path, resume_with: str
) -> None:
    repo, store = pulled
    push_killed_after_first_write(repo, tmp_path)
    written_first = [
        k
        for k in (MASTER, NODES)
        if b"maxSize: 5" in (store / k).read_bytes() or b"# second" in (store / k).read_bytes()
    ]
    assert len(written_first) == 1
    assert (repo / ".git/kops-gitsync/journal-default.json").exists()
    assert (store / LOCK_KEY).exists()

    args = ["push", "--yes"] if resume_with == "push" else ["pull"]
    result = cli(*args, cwd=repo)
    assert result.code == 0, result.err
    assert "interrupted push finished" in result.err
    assert b"maxSize: 5" in (store / NODES).read_bytes()
    assert b"# second" in (store / MASTER).read_bytes()
    assert not (repo / ".git/kops-gitsync/journal-default.json").exists()
    assert not (store / LOCK_KEY).exists()
    assert "up to date" in cli("pull", cwd=repo).out


def test_locked_store_is_refused_and_unlock_shows_holder(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.vfs.file import FileStore

    lock = StoreLock(FileStore(store), "push from another machine")
    lock.acquire()
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "edit")
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1 and "is locked" in result.err and "another machine" in result.err

    shown = cli("unlock", cwd=repo)
    assert "push from another machine" in shown.out and (store / LOCK_KEY).exists()
    assert cli("unlock", "--yes", cwd=repo).code == 0
    assert not (store / LOCK_KEY).exists()
    assert cli("push", "--yes", cwd=repo).code == 0


def test_expired_lock_is_taken_over(pulled: tuple[Path, Path], cli: Callable[..., Run]) -> None:
    repo, store = pulled
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.vfs.file import FileStore

    StoreLock(FileStore(store), "crashed push", ttl=-1).acquire()
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "edit")
    assert cli("push", "--yes", cwd=repo).code == 0
