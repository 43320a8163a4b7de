"""Two kops-gitsync processes on one repo or store, and repositories of unusual shape."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.core.conftest import Run, git, snapshot
from tests.core.test_push import MASTER, NODES, edit, push_killed_after_first_write


@pytest.fixture
def live_process() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_pull_does_not_finish_a_push_that_is_still_running(
    pulled: tuple[Path, Path], cli: Callable[..., Run], live_process: int
) -> None:
    """A journal plus a lock whose holder still runs is a push in progress, not a crash."""
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "edit")
    lock = {
        "id": "live-push",
        "owner": "someone",
        "host": socket.gethostname(),
        "pid": live_process,
        "operation": "push main",
        "created": time.time(),
        "expires": time.time() + 600,
    }
    (store / LOCK_KEY).write_text(json.dumps(lock))
    journal = repo / ".git/kops-gitsync/journal-default.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    head = git(repo, "rev-parse", "HEAD").strip()
    journal.write_text(
        json.dumps(
            {
                "store": "default",
                "url": f"file://{store}",
                "source_commit": head,
                "branch": "main",
                "observed_tip": git(
                    repo, "rev-parse", "refs/kops-gitsync/observed/default"
                ).strip(),
                "lock_id": "live-push",
                "entries": [],
            }
        )
        + "\n"
    )
    before = snapshot(store)

    result = cli("pull", cwd=repo)
    assert result.code == 1 and "is locked" in result.err and "push main" in result.err
    assert journal.exists() and snapshot(store) == before


def test_damaged_journal_is_a_clear_error(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, _ = pulled
    journal = repo / ".git/kops-gitsync/journal-default.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text('{"key": "a", "op": "update"}\n')
    result = cli("pull", cwd=repo)
    assert result.code == 1 and "journal" in result.err and "damaged" in result.err
    assert "Traceback" not in result.err


def test_killed_push_is_finished_from_another_worktree(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    repo, store = pulled
    push_killed_after_first_write(repo, tmp_path)
    other = tmp_path / "other-worktree"
    git(repo, "worktree", "add", "-q", "--detach", str(other))
    result = cli("pull", "--no-merge", cwd=other)
    assert result.code == 0, result.err
    assert "interrupted push finished" in result.err
    assert b"maxSize: 5" in (store / NODES).read_bytes()
    assert b"# second" in (store / MASTER).read_bytes()
    assert cli("pull", cwd=repo).code == 0
    assert cli("push", "--yes", cwd=repo).code == 0


def test_push_refuses_a_store_other_than_the_one_mirrored(
    pulled: tuple[Path, Path], cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    repo, _ = pulled
    other = make_store("ha")
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "edit")
    before = snapshot(other)
    result = cli("push", "--yes", "--state", f"file://{other}", cwd=repo)
    assert result.code == 1 and "refusing to push its history to another store" in result.err
    assert snapshot(other) == before


def test_sha256_repository_is_refused_clearly(
    tmp_path: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    repo = tmp_path / "sha256"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256")
    result = cli("pull", "--state", f"file://{make_store('minimal-aws')}", cwd=repo)
    assert result.code == 1 and "SHA-1 repositories only" in result.err
    assert git(repo, "fsck").strip() == ""
