"""The daemon's parts on their own: schedule arithmetic, sd_notify over a real socket, the
state file, the log formats, the metrics endpoint over real HTTP, the lease on a real
file:// store."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.lease import Lease, LeaseKeeper
from kops_gitsync.daemon.metrics import Metrics
from kops_gitsync.daemon.notify import Notifier
from kops_gitsync.daemon.runner import LeaseGuardedStore
from kops_gitsync.daemon.scheduler import StoreSchedule, due, seconds_until_next
from kops_gitsync.daemon.state import DaemonState, StoreState, describe, read_state, write_state
from kops_gitsync.errors import FatalStoreError
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.file import FileStore

# --- scheduler ---------------------------------------------------------------------------


def schedule(interval: float = 60.0, rand: float = 0.5) -> StoreSchedule:
    return StoreSchedule("s", interval, rand=lambda: rand)


def test_success_waits_one_interval_within_jitter() -> None:
    low, high = schedule(rand=0.0), schedule(rand=1.0)
    low.succeeded(100.0)
    high.succeeded(100.0)
    assert low.next_due == pytest.approx(100.0 + 54.0)
    assert high.next_due == pytest.approx(100.0 + 66.0)


def test_failures_back_off_exponentially_up_to_the_cap_and_reset_on_success() -> None:
    s = schedule()
    delays = [s.failed(0.0) for _ in range(12)]
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert max(delays) == s.backoff_cap
    assert s.failures == 12
    s.succeeded(1000.0)
    assert s.failures == 0
    assert s.failed(1000.0) == 2.0


def test_one_failing_store_does_not_delay_another() -> None:
    bad, good = StoreSchedule("bad", 10.0, rand=lambda: 0.5), StoreSchedule(
        "good", 10.0, rand=lambda: 0.5)
    for _ in range(5):
        bad.failed(0.0)
    good.succeeded(0.0)
    assert [s.name for s in due([bad, good], 10.0)] == ["good"]
    assert seconds_until_next([bad, good], 0.0) == pytest.approx(10.0)


def test_an_event_runs_the_store_after_the_settle_time_not_the_interval() -> None:
    s = schedule(interval=3600)
    s.succeeded(0.0)
    s.poke("store changed", 5.0)
    assert not s.is_due(5.0)
    assert s.is_due(5.0 + s.settle)
    assert s.begin(5.0 + s.settle) == {"store changed"}
    assert not s.is_due(5.0 + s.settle)  # consumed: the next run waits for the interval


def test_a_burst_of_events_is_one_run_and_cannot_postpone_it() -> None:
    s = schedule(interval=3600)
    s.succeeded(0.0)
    for i in range(100):
        s.poke("store changed", 1.0 + i * 0.01)
    assert s.is_due(1.0 + s.settle)


def test_an_event_during_a_run_asks_for_another_run() -> None:
    s = schedule(interval=3600)
    s.succeeded(0.0)
    s.poke("store changed", 1.0)
    s.begin(1.0 + s.settle)
    s.poke("store changed", 1.1)  # arrived while the pull ran
    s.succeeded(1.2)
    assert s.is_due(1.1 + s.settle)


def test_every_reason_of_a_burst_reaches_the_run() -> None:
    s = schedule(interval=3600)
    s.succeeded(0.0)
    s.poke("branch moved", 1.0)
    s.poke("store changed", 1.1)  # must not be swallowed by the earlier, different event
    assert s.begin(2.0) == {"branch moved", "store changed"}
    assert s.begin(2.0) == {"interval"}


def test_a_run_that_is_also_due_by_interval_says_so() -> None:
    s = schedule(interval=10)
    s.succeeded(0.0)
    s.poke("branch moved", 11.0)
    assert s.begin(11.0) == {"branch moved", "interval"}


def test_a_deferred_run_keeps_its_reasons() -> None:
    s = schedule(interval=3600)
    s.succeeded(0.0)
    s.poke("branch moved", 1.0)
    reasons = s.begin(1.0 + s.settle)
    s.defer(reasons, 2.0, 1.0)
    assert not s.is_due(2.5)
    assert s.is_due(3.0) and s.begin(3.0) == {"branch moved"}


def test_events_do_not_break_back_off() -> None:
    s = schedule()
    s.failed(0.0)
    s.poke("store changed", 0.5)
    assert not s.is_due(0.6)
    assert s.is_due(2.0)


def test_start_spreads_first_runs() -> None:
    s = schedule(interval=300, rand=1.0)
    s.start(0.0)
    assert s.next_due == pytest.approx(5.0)


# --- sd_notify ---------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def test_notify_sends_ready_status_and_watchdog(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert notifier.enabled and notifier.watchdog_interval == 2.0
    assert notifier.ready("2 stores")
    first = sock.recv(4096).decode().splitlines()
    assert "READY=1" in first and "STATUS=2 stores" in first
    assert f"MAINPID={os.getpid()}" in first
    notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_abstract_socket() -> None:
    name = f"kops-gitsync-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).status("hello")
        assert sock.recv(4096) == b"STATUS=hello"
    finally:
        sock.close()


def test_notify_is_silent_outside_systemd_and_when_nobody_listens(tmp_path: Path) -> None:
    assert not Notifier({}).ready("x")
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody.sock")})
    assert gone.enabled and not gone.watchdog()  # no exception either


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    env = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_interval is None


# --- state file --------------------------------------------------------------------------


def test_state_round_trip_and_description(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    state = DaemonState(activity="running")
    state.stores["dev"] = StoreState(url="file:///s", auto_push=True, lease="standby",
                                     lease_holder="ops@other pid 7", last_error="pull: boom",
                                     failures=3)
    write_state(git_dir, state)
    data = read_state(git_dir)
    assert data is not None
    assert data["running"] is True and data["stores"]["dev"]["lease"] == "standby"
    text = "\n".join(describe(data))
    assert "held by ops@other pid 7" in text and "failing (3x)" in text
    assert list((git_dir / "kops-gitsync").iterdir()) == [git_dir / "kops-gitsync" /
                                                           "daemon-state.json"]


def test_status_of_a_replica_names_its_members_and_each_store_owner(tmp_path: Path) -> None:
    """At 3 a.m. `kops-gitsync status` on one pod must say which replica should be working
    on a store it does not touch."""
    git_dir = tmp_path / ".git"
    state = DaemonState(activity="running", member="kgs-a", members=["kgs-a", "kgs-b"],
                        api_answered=True, membership_valid=True)
    state.stores["dev"] = StoreState(url="file:///s", auto_push=True, owner="kgs-b")
    state.stores["prod"] = StoreState(url="file:///p", auto_push=True, owner="kgs-a",
                                      lease="held", pending_push="abc123",
                                      conflict="store changed under us")
    write_state(git_dir, state)
    data = read_state(git_dir)
    assert data is not None
    text = "\n".join(describe(data))
    assert "replica kgs-a of 2 live members: kgs-a, kgs-b" in text
    assert "dev: owned by replica kgs-b" in text and "prod: owned by this replica" in text
    assert "pending push abc123" in text and "push stopped: store changed under us" in text


def test_status_of_a_replica_cut_off_from_the_api_server_says_so(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    state = DaemonState(activity="running", member="kgs-a", members=[],
                        api_answered=True, membership_valid=False)
    write_state(git_dir, state)
    data = read_state(git_dir)
    assert data is not None
    assert "membership Lease not current: this replica writes no store" in "\n".join(
        describe(data))


def test_state_of_a_dead_daemon_is_marked_stale(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    state = DaemonState()
    state.pid = 2**22 + 17  # above pid_max on default kernels: no such process
    write_state(git_dir, state)
    data = read_state(git_dir)
    assert data is not None and data["running"] is False
    assert "NOT running" in describe(data)[0]


def test_broken_state_file_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "kops-gitsync").mkdir()
    (tmp_path / "kops-gitsync" / "daemon-state.json").write_text("{half")
    assert read_state(tmp_path) is None


# --- logs --------------------------------------------------------------------------------


def test_json_log_line_carries_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("json")
    logs.event(store="dev", action="pull", result="changed", duration=0.25, objects_read=3,
               objects_written=0)
    line = capsys.readouterr().err.strip()
    body = json.loads(line)
    assert body["store"] == "dev" and body["objects_read"] == 3 and body["level"] == "info"


def test_text_log_line_is_one_line_of_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("text")
    logs.event(logging.WARNING, "old config kept", store="dev", action="reload",
               result="rejected", duration=1.5)
    line = capsys.readouterr().err
    assert line == (
        "warning: store=dev action=reload result=rejected duration=1.500 old config kept\n"
    )


def test_under_journald_each_line_carries_its_priority(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup("text", journald=True)
    logs.event(logging.ERROR, "", store="dev", action="pull", result="error")
    logs.event(store="dev", action="pull", result="unchanged")
    assert capsys.readouterr().err.splitlines() == [
        "<3>error: store=dev action=pull result=error",
        "<6>info: store=dev action=pull result=unchanged",
    ]


def test_a_bug_logs_its_traceback_in_both_formats(capsys: pytest.CaptureFixture[str]) -> None:
    for log_format in ("json", "text"):
        logs.setup(log_format)
        try:
            raise ZeroDivisionError("bug")
        except ZeroDivisionError:
            logs.log.error("", extra={"event": {"store": "dev", "result": "error"}},
                           exc_info=True)
        assert "ZeroDivisionError: bug" in capsys.readouterr().err


# --- metrics -----------------------------------------------------------------------------


def test_metrics_exposition() -> None:
    """What /metrics serves (tests/daemon/test_http_endpoints.py: the server itself)."""
    metrics = Metrics()
    metrics.serve()
    metrics.pulled("dev", 1700000000.0)
    metrics.error("dev", "pull", "store-unavailable")
    metrics.lease("dev", True, "me@here pid 1")
    metrics.lease("dev", False, "you@there pid 2")
    metrics.drift("dev", 4)
    text = metrics.exposition().decode()
    assert 'kops_gitsync_last_pull_success_timestamp_seconds{store="dev"} 1.7e+09' in text
    assert ('kops_gitsync_errors_total{action="pull",kind="store-unavailable",store="dev"} 1.0'
            in text)
    assert 'kops_gitsync_lease_holder_info{holder="you@there pid 2",store="dev"} 1.0' in text
    assert "me@here" not in text  # the old holder's series is gone
    assert 'kops_gitsync_lease_held{store="dev"} 0.0' in text
    assert 'kops_gitsync_drift_objects{store="dev"} 4.0' in text


def test_metrics_off_is_a_no_op() -> None:
    metrics = Metrics()
    metrics.pulled("dev", 1.0)
    metrics.lease("dev", True, "x")
    assert not metrics.enabled


# --- lease -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_lease_holder_and_a_standby(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    first, second = Lease("dev", store, ttl=60), Lease("dev", store, ttl=60)
    assert first.tick() and first.valid()
    assert not second.tick() and not second.valid()
    assert second.holder is not None and second.holder.pid == os.getpid()
    first.release()
    assert not (tmp_path / "store" / LOCK_KEY).exists()
    assert second.tick() and second.valid()


def test_standby_takes_over_an_expired_lease(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    dead = StoreLock(store, "daemon", ttl=0.2)
    dead.acquire()  # a daemon that died without releasing
    standby = Lease("dev", store, ttl=60)
    assert not standby.tick()
    time.sleep(0.3)
    assert standby.tick() and standby.valid()


def test_a_lease_not_renewed_for_half_its_ttl_stops_counting(tmp_path: Path) -> None:
    clock = FakeClock()
    lease = Lease("dev", FileStore(tmp_path / "store"), ttl=60, clock=clock)
    lease.tick()
    clock.now += 29
    assert lease.valid()
    clock.now += 2
    assert not lease.valid()  # well before another daemon may take it (60 s)


def test_a_replaced_lock_drops_the_lease_at_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    lease = Lease("dev", store, ttl=60)
    lease.tick()
    (tmp_path / "store" / LOCK_KEY).write_text('{"someone": "else"}')  # `unlock` + a rival
    assert lease.tick()  # changed: lost
    assert not lease.held and not lease.valid()
    assert lease.last_error is not None and "lost the lock" in lease.last_error


def test_keeper_renews_and_reports_changes(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    lease = Lease("dev", store, ttl=4)
    changes: list[tuple[str, bool]] = []
    keeper = LeaseKeeper([lease], lambda name, held: changes.append((name, held)), period=0.05)
    keeper.start()
    try:
        deadline = time.monotonic() + 10
        while not changes and time.monotonic() < deadline:
            time.sleep(0.02)
        first = json.loads((tmp_path / "store" / LOCK_KEY).read_text())["expires"]
        time.sleep(0.3)
        later = json.loads((tmp_path / "store" / LOCK_KEY).read_text())["expires"]
    finally:
        keeper.stop()
        keeper.join(5)
    assert changes == [("dev", True)]
    assert later > first  # renewed


def test_writes_through_a_lapsed_lease_are_refused_before_they_reach_the_store(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    store = FileStore(tmp_path / "store")
    lease = Lease("dev", store, ttl=60, clock=clock)
    lease.tick()
    guarded = LeaseGuardedStore(store, lease)
    guarded.write("c/config", b"one")
    clock.now += 31  # no renewal for more than half the TTL
    with pytest.raises(FatalStoreError, match=r"lease on .* lost"):
        guarded.write("c/config", b"two")
    with pytest.raises(FatalStoreError):
        guarded.delete("c/config")
    assert (tmp_path / "store" / "c" / "config").read_bytes() == b"one"
    assert [o.key for o in guarded.list("c/")] == ["c/config"]  # reads still work
