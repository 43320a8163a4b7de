"""The store lock excludes for real: fencing before each write, unreadable lock objects held,
race losers told who holds the lock and whether to wait. Real stores: file://, memfs:// and
s3:// against moto (the session's server, slow)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from kops_gitsync.errors import FatalError, LockHeld, LockLost
from kops_gitsync.sync.lock import FencedStore, StoreLock
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.base import Store
from tests.doubles.lock_thief import TakenAfter, rival_takes

FACTORIES = [
    "file_store_factory",
    "memfs_store_factory",
    pytest.param("s3_store_factory", marks=pytest.mark.slow),
]


@pytest.fixture(params=FACTORIES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    factory: Callable[[], Store] = request.getfixturevalue(request.param)
    made = factory()
    yield made
    made.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_no_write_starts_after_the_lock_is_taken_away(store: Store, how: str) -> None:
    lock = StoreLock(store, "push main")
    lock.acquire()
    spy = TakenAfter(store, 2, how)
    fenced = lock.fenced(spy)
    keys = [f"c/instancegroup/ig-{i}" for i in range(6)]
    with pytest.raises(LockLost) as lost:
        for key in keys:  # what push does: one write after the other
            fenced.write(key, b"kind: InstanceGroup\n")
    assert spy.before == keys[:2] and spy.after == []
    assert sorted(o.key for o in store.list("c/")) == keys[:2]
    if how == "replaced":
        assert "push from the rival" in str(lost.value)
    else:
        assert "removed" in str(lost.value)
    lock.release()  # not ours any more: the rival's lock stays
    assert (StoreLock.inspect(store).version is None) == (how == "removed")


def test_an_expired_lock_stops_before_the_write_and_a_live_one_is_renewed(store: Store) -> None:
    clock = Clock()
    lock = StoreLock(store, "push main", ttl=900, clock=clock)
    first = lock.acquire()
    clock.now += 200  # less than a third of the TTL: a read, no renewal
    lock.ensure_held()
    assert StoreLock.inspect(store).info == first
    clock.now += 200  # past a third: renewed, 15 minutes from now
    lock.ensure_held()
    renewed = StoreLock.inspect(store).info
    assert renewed is not None and renewed.id == first.id
    assert renewed.expires == clock.now + 900
    clock.now += 900  # a single write that stalled all that time
    with pytest.raises(LockLost, match="expired"):
        lock.ensure_held()
    with pytest.raises(LockLost):
        lock.fenced().write("c/config", b"late")
    assert [o.key for o in store.list("c/")] == []


def test_a_renewal_whose_answer_was_lost_is_recognised(store: Store) -> None:
    """The conditional write of a renewal landed but its answer never arrived: the object
    then holds exactly what this holder sent, which is still its lock."""
    clock = Clock()
    lock = StoreLock(store, "daemon", ttl=60, clock=clock)
    info = lock.acquire()
    clock.now += 30
    sent = replace(info, expires=clock.now + 60)
    store.write(LOCK_KEY, lock._encode(sent), if_match=StoreLock.inspect(store).version)
    lock._pending = sent  # what renew() keeps when the store raised instead of answering
    lock.ensure_held()  # still ours: no LockLost
    assert lock.info == sent


def test_the_lock_is_only_renewed_on_the_version_this_holder_wrote(store: Store) -> None:
    lock = StoreLock(store, "daemon", ttl=60)
    lock.acquire()
    rival_takes(store, "replaced")
    with pytest.raises(LockLost, match="push from the rival"):
        lock.renew()
    now = StoreLock.inspect(store).info
    assert now is not None and now.operation == "push from the rival"


# --- lock objects this version cannot read --------------------------------------------

VALID = {"id": "x" * 32, "owner": "ops", "host": "elsewhere", "pid": 4242,
         "operation": "push main", "created": 1.0e9, "expires": 4.0e9}
UNREADABLE = [
    (b"", "empty"),
    (b"garbage\n", "not JSON"),
    (b"[1, 2]", "JSON list"),
    (b"\xff\xfe\x00l\x00o\x00c\x00k", "not UTF-8"),
    (json.dumps({**VALID, "mode": "exclusive"}).encode(), "does not know"),
    (json.dumps({**VALID, "expires": "tomorrow"}).encode(), "'expires' is \"tomorrow\""),
    (json.dumps({**VALID, "expires": float("nan")}).encode(), "'expires' is NaN"),
    (json.dumps({**VALID, "expires": None}).encode(), "'expires' is null"),
    (json.dumps({k: v for k, v in VALID.items() if k != "pid"}).encode(), "lacks pid"),
]


@pytest.mark.parametrize(("data", "problem"), UNREADABLE, ids=[p for _d, p in UNREADABLE])
def test_an_unreadable_lock_object_is_held_not_taken_over(
    store: Store, data: bytes, problem: str
) -> None:
    store.write(LOCK_KEY, data)
    before = StoreLock.inspect(store)
    with pytest.raises(LockHeld) as refused:
        StoreLock(store, "push main").acquire()
    message = str(refused.value)
    assert LOCK_KEY in message and problem in message and "\n" not in message
    assert "unlock --yes" in message
    assert StoreLock.inspect(store).version == before.version  # untouched
    assert problem in before.describe()


# --- what the loser of a race is told -------------------------------------------------


def held_by(store: Store, **fields: object) -> None:
    doc = {**VALID, "host": socket.gethostname(), **fields}
    store.write(LOCK_KEY, json.dumps(doc).encode())


def test_a_live_holder_is_named_and_the_loser_told_to_retry(store: Store) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        held_by(store, pid=holder.pid, owner="alice", operation="push feature")
        with pytest.raises(LockHeld) as refused:
            StoreLock(store, "push main").acquire()
    finally:
        holder.kill()
        holder.wait(10)
    message = str(refused.value)
    for part in ("alice@", f"pid {holder.pid}", "push feature", "since", "expires", "retry"):
        assert part in message
    assert "unlock" not in message  # it is running: removing its lock lets a second writer in


def test_a_holder_on_another_host_is_not_called_gone(store: Store) -> None:
    held_by(store, host="build-7.example.com")
    with pytest.raises(LockHeld) as refused:
        StoreLock(store, "push main").acquire()
    assert "build-7.example.com" in str(refused.value) and "unlock" not in str(refused.value)


def test_a_holder_that_no_longer_runs_gets_the_unlock_hint(store: Store) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    held_by(store, pid=gone.pid)
    with pytest.raises(LockHeld) as refused:
        StoreLock(store, "push main").acquire()
    assert f"no process {gone.pid} runs" in str(refused.value)
    assert "kops-gitsync unlock --yes" in str(refused.value)


def test_fenced_store_reads_pass_through_and_writes_need_the_lock(store: Store) -> None:
    lock = StoreLock(store, "push")
    fenced = FencedStore(store, lock)
    with pytest.raises(LockLost, match="not held"):
        fenced.write("c/config", b"x")
    lock.acquire()
    fenced.write("c/config", b"x")
    assert fenced.read("c/config").data == b"x"
    fenced.delete("c/config")
    lock.release()
    assert [o.key for o in fenced.list()] == []


def test_lock_errors_are_one_line_fatal_errors() -> None:
    assert issubclass(LockLost, FatalError) and issubclass(LockHeld, FatalError)
