"""The loop's decisions, in process: memfs:// stores (kops-gitsync's in-memory reference
backend) in a real git repository, one turn at a time, no sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.engine import Daemon, Options
from kops_gitsync.daemon.scheduler import StoreSchedule
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.memfs import MemoryStore
from tests.conftest import FIXTURE_STORES
from tests.daemon.conftest import CLUSTER, git, make_repo


@pytest.fixture
def memfs_urls() -> Iterator[list[str]]:
    urls: list[str] = []
    yield urls
    for url in urls:
        MemoryStore.reset(url)


def fixture_store(url: str) -> MemoryStore:
    store = MemoryStore(url)
    root = FIXTURE_STORES / "minimal-aws"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        store.write(path.relative_to(root).as_posix(), path.read_bytes())
    return store


def daemon_for(repo: Path) -> Daemon:
    logs.setup("json")
    daemon = Daemon(Options(repo_dir=repo, store_name=None, lease_ttl=60, fetch_interval=0,
                            metrics_port=None, once=True, push_remote=False, env={}))
    daemon._install(daemon._load())
    return daemon


def test_one_failing_store_backs_off_alone(tmp_path: Path, memfs_urls: list[str]) -> None:
    good_url, bad_url = "memfs://engine-good", "memfs://engine-bad"
    memfs_urls += [good_url, bad_url]
    fixture_store(good_url)
    MemoryStore(bad_url)  # exists, but empty: pull refuses to mirror an empty store
    repo = make_repo(tmp_path / "repo", [
        {"name": "good", "state": good_url, "interval": 60},
        {"name": "bad", "state": bad_url, "interval": 60},
    ])
    daemon = daemon_for(repo)
    try:
        for runner in daemon.runners.values():
            daemon._turn(runner)
        good, bad = daemon.runners["good"], daemon.runners["bad"]
        assert good.schedule.failures == 0 and good.state.last_pull is not None
        assert bad.schedule.failures == 1 and "lists no objects" in (bad.state.last_error or "")
        assert bad.schedule.next_due - time.monotonic() < 5  # retried soon, backed off
        assert good.schedule.next_due - time.monotonic() > 50  # on its normal interval
        assert (repo / "state" / "good" / CLUSTER / "config").exists()
    finally:
        daemon._shutdown()


def test_a_push_only_turn_keeps_the_pull_on_its_interval(
    tmp_path: Path, memfs_urls: list[str]
) -> None:
    url = "memfs://engine-push-only"
    memfs_urls.append(url)
    store = fixture_store(url)
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": url, "interval": 60, "auto_push": True}])
    daemon = daemon_for(repo)
    try:
        runner = daemon.runners["dev"]
        daemon._turn(runner)  # first pull and push check
        due_before = runner.schedule.next_due

        config = repo / "state" / CLUSTER / "config"
        config.write_text(config.read_text() + "# approved\n")
        git(repo, "commit", "-q", "-am", "approved change")
        runner.schedule.poke("branch moved", time.monotonic() - 1)
        daemon._turn(runner)

        assert store.read(f"{CLUSTER}/config").data.endswith(b"# approved\n")
        assert runner.schedule.next_due == due_before  # the pull was not postponed
        assert runner.state.last_pushed_commit == git(repo, "rev-parse", "HEAD").strip()
    finally:
        daemon._shutdown()
    assert LOCK_KEY not in [o.key for o in store.list()]


def test_a_held_lease_waiting_for_renewal_defers_the_turn(
    tmp_path: Path, memfs_urls: list[str]
) -> None:
    url = "memfs://engine-defer"
    memfs_urls.append(url)
    fixture_store(url)
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": url, "interval": 60, "auto_push": True}])
    daemon = daemon_for(repo)
    try:
        runner = daemon.runners["dev"]
        assert runner.lease is not None and runner.lease.held
        runner.lease._renewed_at = time.monotonic() - 31  # renewal overdue (TTL 60)
        runner.schedule = StoreSchedule("dev", 60)
        runner.schedule.poke("store changed", time.monotonic() - 1)
        daemon._turn(runner)
        assert runner.state.last_pull is None  # nothing done on a doubtful lease
        assert runner.schedule.poked == {"store changed"}  # but not forgotten
        runner.lease.tick()  # the keeper's renewal
        daemon._turn(runner)
        assert runner.state.last_pull is not None
    finally:
        daemon._shutdown()
