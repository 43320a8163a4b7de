"""The daemon's lease excludes for real: a push stops at the first write after its lock was
taken, one slow store cannot make another's lease lapse, and a lease lost by a write's check
is reported. In process, on memfs:// and file:// stores in a real git repository."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.engine import Daemon, Options
from kops_gitsync.daemon.lease import Lease, LeaseKeeper
from kops_gitsync.errors import LockLost
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.memfs import MemoryStore
from tests.conftest import FIXTURE_STORES
from tests.core.test_push_fencing import six_changes
from tests.daemon.conftest import copy_fixture_store, make_repo
from tests.doubles.lock_thief import TakenAfter, rival_takes


@pytest.fixture
def memfs_urls() -> Iterator[list[str]]:
    urls: list[str] = []
    yield urls
    for url in urls:
        MemoryStore.reset(url)


def store_url(kind: str, tmp_path: Path, memfs_urls: list[str]) -> str:
    if kind == "file":
        return f"file://{copy_fixture_store(tmp_path / 'store')}"
    url = f"memfs://fencing-{tmp_path.name}"
    memfs_urls.append(url)
    store = MemoryStore(url)
    root = FIXTURE_STORES / "minimal-aws"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        store.write(path.relative_to(root).as_posix(), path.read_bytes())
    return url


def daemon_for(repo: Path, ttl: float = 60) -> Daemon:
    logs.setup("json")
    daemon = Daemon(Options(repo_dir=repo, store_name=None, lease_ttl=ttl, fetch_interval=0,
                            metrics_port=None, once=True, push_remote=False, env={}))
    daemon._install(daemon._load())
    return daemon


@pytest.mark.parametrize("kind", ["file", "memfs"])
@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_a_daemon_push_stops_at_the_first_write_after_its_lock_is_taken(
    tmp_path: Path, memfs_urls: list[str], kind: str, how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator's ``unlock --yes`` and another writer taking the store, between two
    writes of the daemon's push: not one more object may reach the store (it was six)."""
    # One write at a time, so "after the theft" is exact; with parallel writes those already
    # checked and in flight may still land (tests/core/test_push_parallel.py).
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", "1")
    url = store_url(kind, tmp_path, memfs_urls)
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": url, "interval": 60, "auto_push": True}])
    daemon = daemon_for(repo)
    try:
        runner = daemon.runners["dev"]
        assert runner.lease is not None and runner.lease.held
        daemon._turn(runner)  # the first pull
        raw = runner.ctx.store
        thief = TakenAfter(raw, 2, how)
        runner.ctx = replace(runner.ctx, store=thief)
        six_changes(repo)
        runner.schedule.poke("branch moved", time.monotonic() - 1)
        daemon._turn(runner)

        assert len(thief.before) == 2
        assert thief.after == []  # fenced: nothing written inside the other holder's window
        assert runner.state.last_error is not None and "lost the lock" in runner.state.last_error
        assert not runner.lease.held and not runner.lease.valid()
        assert runner.ctx.journal_path.exists()  # the rest is resumed, not forgotten
        holder = StoreLock.inspect(raw)
        if how == "replaced":
            assert holder.info is not None and holder.info.operation == "push from the rival"
        else:
            assert holder.version is None
        runner.lease.tick()  # the keeper's next tick: standby, or the free store back
        assert runner.lease.held == (how == "removed")
    finally:
        daemon._shutdown()
    if how == "replaced":  # shutting down does not remove somebody else's lock
        assert StoreLock.inspect(raw).info is not None


def test_a_lease_lost_by_a_writes_check_is_reported_by_the_next_tick(
    memfs_urls: list[str],
) -> None:
    url = "memfs://fencing-report"
    memfs_urls.append(url)
    store = MemoryStore(url)
    lease = Lease("dev", store, ttl=60)
    assert lease.tick() and lease.held
    rival_takes(store, "replaced")
    with pytest.raises(LockLost, match="push from the rival"):
        lease.ensure_held()
    assert not lease.valid()
    assert lease.tick()  # changed: the loop hears "standby", with the holder
    assert not lease.held and lease.holder is not None
    assert lease.holder.operation == "push from the rival"


class SlowLockStore(MemoryStore):
    """A store that stops answering lock writes while ``stuck`` is set (a hung endpoint)."""

    stuck: threading.Event

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        if key == LOCK_KEY and if_match is not None:
            deadline = time.monotonic() + 5
            while self.stuck.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
        return super().write(key, data, if_match=if_match, if_none_match=if_none_match)


def test_a_slow_store_does_not_let_another_stores_lease_lapse(memfs_urls: list[str]) -> None:
    memfs_urls += ["memfs://fencing-slow", "memfs://fencing-fast"]
    slow_store = SlowLockStore("memfs://fencing-slow")
    slow_store.stuck = threading.Event()
    slow = Lease("slow", slow_store, ttl=4)
    fast = Lease("fast", MemoryStore("memfs://fencing-fast"), ttl=4)
    keeper = LeaseKeeper([slow, fast], lambda _name, _held: None, period=0.05)
    keeper.tick_all()
    assert slow.valid() and fast.valid()
    keeper.start()
    try:
        slow_store.stuck.set()  # the slow store's renewal hangs for 3 s, past half a TTL
        deadline = time.monotonic() + 3
        lapsed = []
        while time.monotonic() < deadline:
            if not fast.valid():
                lapsed.append(time.monotonic())
            time.sleep(0.05)
        assert lapsed == []  # renewed on its own deadline all along
        assert not slow.valid()  # the stuck one may not write, rightly
    finally:
        slow_store.stuck.clear()
        keeper.stop()
        keeper.join(10)
