"""``kops-gitsync daemon`` as cron and systemd see it: ``--once`` reports failure in its exit
status and does the remote half of a turn, and a start-up that fails gives its leases back.
Real subprocesses, file:// stores, a bare git remote; every run has a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.daemon.conftest import CLUSTER, copy_fixture_store, git, make_repo, pull_commits

pytestmark = pytest.mark.slow


def daemon(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo), *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_once_exits_1_with_a_line_per_failed_store(tmp_path: Path) -> None:
    good = copy_fixture_store(tmp_path / "good")
    empty = tmp_path / "empty"
    empty.mkdir()
    repo = make_repo(tmp_path / "repo", [
        {"name": "good", "state": f"file://{good}"},
        {"name": "empty", "state": f"file://{empty}"},
        {"name": "gone", "state": f"file://{tmp_path / 'never-created'}"},
    ])
    done = daemon(repo, "--once", "--log-format", "json")
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("kops-gitsync daemon: empty: pull refused: ")
    assert lines[1].startswith("kops-gitsync daemon: gone: pull ")
    assert "Traceback" not in done.stderr
    assert len(pull_commits(repo, "good")) == 1  # the others did not stop it


def test_once_with_push_remote_fetches_approvals_and_publishes(tmp_path: Path) -> None:
    store = copy_fixture_store(tmp_path / "store")
    seed = make_repo(tmp_path / "seed", [
        {"name": "dev", "state": f"file://{store}", "auto_push": True}])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    git(tmp_path, "clone", "-q", str(origin), "cron")
    cron = tmp_path / "cron"

    first = daemon(cron, "--once", "--push-remote")
    assert first.returncode == 0, first.stderr
    assert "refs/kops-gitsync/observed/dev" in git(origin, "for-each-ref")
    assert git(origin, "show", f"main:state/{CLUSTER}/config")  # the mirror, for review

    git(tmp_path, "clone", "-q", str(origin), "approver")
    approver = tmp_path / "approver"
    edited = approver / "state" / CLUSTER / "config"
    edited.write_text(edited.read_text() + "# approved on the remote\n")
    git(approver, "commit", "-q", "-am", "reviewed and merged")
    git(approver, "push", "-q", "origin", "main")

    second = daemon(cron, "--once", "--push-remote")
    assert second.returncode == 0, second.stderr
    assert "# approved on the remote" in (store / CLUSTER / "config").read_text()
    published = git(origin, "rev-parse", "refs/kops-gitsync/observed/dev").strip()
    assert published == git(cron, "rev-parse", "refs/kops-gitsync/observed/dev").strip()
    assert not (store / LOCK_KEY).exists()


def test_once_reports_a_remote_that_cannot_be_fetched(tmp_path: Path) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": f"file://{store}", "auto_push": True}])
    git(repo, "remote", "add", "origin", str(tmp_path / "no-such-remote.git"))
    git(repo, "config", "branch.main.remote", "origin")
    git(repo, "config", "branch.main.merge", "refs/heads/main")
    done = daemon(repo, "--once", "--log-format", "json")
    assert done.returncode == 1
    assert "kops-gitsync daemon: fetch from the git remote failed" in done.stderr
    assert len(pull_commits(repo, "dev")) == 1  # the stores still had their turn


def test_a_start_up_that_fails_after_taking_leases_releases_them(tmp_path: Path) -> None:
    """The second store cannot be watched (its path is a symlink loop): the daemon fails
    after it has taken the first store's lease, and must give it back on its way out."""
    store = copy_fixture_store(tmp_path / "store")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": f"file://{store}", "auto_push": True},
        {"name": "looped", "state": f"file://{loop}"},
    ])
    done = daemon(repo, "--log-format", "json", "--fetch-interval", "0", timeout=60)
    assert done.returncode != 0
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert {"store": "dev", "action": "lease", "result": "held"}.items() <= events[0].items()
    assert not (store / LOCK_KEY).exists()  # released: a restart is not on standby for a TTL
