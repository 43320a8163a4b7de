"""Issue 17, acceptance 1-6: daemon replicas share the stores, on a real kube-apiserver.

Each replica is a real ``kops-gitsync daemon --membership kubernetes`` subprocess with its own
review repository (its own mirror, as separate pods have), configured with the same 24
``file://`` stores (each ``auto_push``, so each has a store lock). What a replica claims is read
from its state file (``StoreState.owner`` and ``lease``), what it holds from the store's lock
object (``.kops-gitsync.lock``, which names the holder's pid). Short durations keep the module
fast: membership Leases of 3 s (renewed every second), store locks with a 4 s TTL. The times
measured are printed (``-s``) and recorded in docs/kubernetes.md.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.daemon.assignment import assign, cap_for
from kops_gitsync.sync.policy import LOCK_KEY
from tests.daemon.conftest import DaemonProc, copy_fixture_store, make_repo
from tests.servers.k8s import write_kubeconfig
from tests.servers.kube_apiserver import RealKubeApiServer

DURATION = 3.0  # --member-lease-duration
RENEW = DURATION / 3  # the membership renew interval
TTL = 4.0  # --lease-ttl of the store locks
STORES = 24
SAMPLE = 0.2
# How long to wait for anything at all before calling it stuck (the machine is shared);
# the acceptance bounds are asserted on the measured times, not by these deadlines.
PATIENCE = 60.0


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Replica:
    name: str
    daemon: DaemonProc

    @property
    def pid(self) -> int:
        return self.daemon.pid

    def state(self) -> dict[str, Any] | None:
        return read_json(self.daemon.repo / ".git" / "kops-gitsync" / "daemon-state.json")

    def alive(self) -> bool:
        return self.daemon.proc.poll() is None


@dataclass
class Snapshot:
    """One sample: every live replica's state file, then every store's lock holder pid."""

    states: dict[str, dict[str, Any]]
    locks: dict[str, int | None]

    def claims(self, store: str) -> list[str]:
        """Replicas whose state says they own ``store`` and hold its lease."""
        return sorted(name for name, st in self.states.items()
                      if (st["stores"].get(store) or {}).get("owner") == name
                      and st["stores"][store].get("lease") == "held")


class Fleet:
    def __init__(self, tmp_path: Path, start_daemon: Callable[..., DaemonProc],
                 api: RealKubeApiServer, namespace: str) -> None:
        self.tmp = tmp_path
        self.start_daemon = start_daemon
        self.api = api
        self.namespace = namespace
        self.kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, ca_file=api.ca_file)
        self.store_dirs: dict[str, Path] = {}
        for n in range(STORES):
            name = f"s{n:02d}"
            self.store_dirs[name] = copy_fixture_store(tmp_path / "stores" / name)
        self.pins: dict[str, str] = {}
        self.replicas: list[Replica] = []

    def url(self, store: str) -> str:
        return f"file://{self.store_dirs[store]}"

    def config(self) -> list[dict[str, Any]]:
        stores = []
        for name in self.store_dirs:
            entry: dict[str, Any] = {"name": name, "state": self.url(name),
                                     "auto_push": True, "interval": 3600}
            if name in self.pins:
                entry["replica"] = self.pins[name]
            stores.append(entry)
        return stores

    def start(self, name: str) -> Replica:
        repo = make_repo(self.tmp / f"repo-{name}", self.config())
        daemon = self.start_daemon(
            repo, "--membership", "kubernetes", "--namespace", self.namespace,
            "--member-name", name, "--member-lease-duration", str(DURATION),
            "--lease-ttl", str(TTL), env={"KUBECONFIG": str(self.kubeconfig)}, name=name)
        replica = Replica(name, daemon)
        self.replicas.append(replica)
        return replica

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive()]

    def leases(self) -> list[str]:
        status, found = self.api.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases")
        assert status == 200, found
        return sorted(item["metadata"]["name"] for item in found.get("items") or [])

    def lock_pid(self, store: str) -> int | None:
        lock = read_json(self.store_dirs[store] / LOCK_KEY)
        if lock is None or lock.get("expires", 0) < time.time():
            return None
        pid = lock.get("pid")
        return pid if isinstance(pid, int) else None

    def snapshot(self) -> Snapshot:
        states = {}
        for replica in self.live():
            st = replica.state()
            if st is not None:
                states[replica.name] = st
        return Snapshot(states, {store: self.lock_pid(store) for store in self.store_dirs})

    def expected(self, members: list[str]) -> dict[str, str]:
        by_url = assign([self.url(s) for s in self.store_dirs], members,
                        {self.url(s): m for s, m in self.pins.items()})
        return {store: by_url[self.url(store)] for store in self.store_dirs}

    def owned(self, snap: Snapshot, members: list[str]) -> dict[str, str] | None:
        """``{store: owner}`` when every live replica sees ``members`` and claims exactly what
        assign() gives it (each store claimed by exactly one replica); else None."""
        if sorted(snap.states) != sorted(members):
            return None
        want = self.expected(members)
        for name, st in snap.states.items():
            if not st.get("membership_valid") or st.get("members") != sorted(members):
                return None
            for store, info in st["stores"].items():
                if (info.get("owner") == name) != (want[store] == name):
                    return None
        return want

    def locked(self, snap: Snapshot, members: list[str]) -> bool:
        """Ownership as above, and every owner holds the lock of each of its stores."""
        want = self.owned(snap, members)
        if want is None:
            return False
        pids = {r.name: r.pid for r in self.live()}
        return all(snap.claims(store) == [owner] and snap.locks[store] == pids[owner]
                   for store, owner in want.items())

    def wait(self, what: str, check: Callable[[Snapshot], Any], *, since: float,
             sample: bool = True) -> float:
        """Seconds from ``since`` until ``check(snapshot)`` holds; every sample also checks
        that no store is claimed-and-locked by two replicas."""
        while True:
            snap = self.snapshot()
            if sample:
                self.assert_single_writer(snap)
            if check(snap):
                return time.monotonic() - since
            if time.monotonic() - since > PATIENCE:
                raise AssertionError(f"timed out waiting for {what}: "
                                     f"{self.describe(snap)}\n{self.logs()}")
            time.sleep(SAMPLE)

    def assert_single_writer(self, snap: Snapshot) -> None:
        """Never two replicas that both claim a store and hold its lease. The files are read
        one after the other, not at one instant; a double claim must still be there when read
        again at once (a real one lasts until the next turn of both loops)."""
        doubled = [s for s in self.store_dirs if len(snap.claims(s)) > 1]
        if doubled:
            again = self.snapshot()
            doubled = [s for s in doubled if len(again.claims(s)) > 1]
            assert not doubled, f"two writers: {[(s, again.claims(s)) for s in doubled]}"

    def describe(self, snap: Snapshot) -> str:
        lines = []
        for name, st in snap.states.items():
            mine = sorted(s for s, i in st["stores"].items() if i.get("owner") == name)
            held = sorted(s for s, i in st["stores"].items() if i.get("lease") == "held")
            lines.append(f"{name}: valid={st.get('membership_valid')} members={st.get('members')}"
                         f" owns={mine} held={held}")
        lines.append(f"locks: {snap.locks}")
        return "\n".join(lines)

    def logs(self) -> str:
        return "\n".join(f"--- {r.name} ---\n{r.daemon.text()[-3000:]}" for r in self.replicas)

    def wait_leases(self, names: list[str], since: float) -> float:
        deadline = since + PATIENCE
        while self.leases() != sorted(names):
            dead = [r.name for r in self.replicas if r.name in names and not r.alive()]
            assert not dead and time.monotonic() < deadline, (
                f"Leases {self.leases()}, wanted {names}; exited: {dead}\n{self.logs()}")
            time.sleep(0.1)
        return time.monotonic() - since

    def start_all(self, names: list[str]) -> float:
        """Start the replicas; returns when the last Lease appeared (monotonic)."""
        for name in names:
            self.start(name)
        self.wait_leases(names, time.monotonic())
        return time.monotonic()


@pytest.fixture
def fleet(real_kube_api: RealKubeApiServer, tmp_path: Path,
          start_daemon: Callable[..., DaemonProc]) -> Iterator[Fleet]:
    namespace = f"replicas-{uuid.uuid4().hex[:10]}"
    status, answer = real_kube_api.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    assert status == 201, answer
    yield Fleet(tmp_path, start_daemon, real_kube_api, namespace)


NAMES = ["kops-gitsync-a", "kops-gitsync-b", "kops-gitsync-c"]
MEASURED: dict[str, float] = {}


def report(key: str, seconds: float) -> None:
    MEASURED[key] = round(seconds, 2)
    print(f"\nMEASURED {key}: {seconds:.2f} s")


def settle(fleet: Fleet, members: list[str], since: float, label: str) -> dict[str, str]:
    owned_after = fleet.wait(f"{label}: ownership", lambda s: fleet.owned(s, members),
                             since=since)
    locked_after = fleet.wait(f"{label}: locks", lambda s: fleet.locked(s, members),
                              since=since)
    report(f"{label} owned", owned_after)
    report(f"{label} locked", locked_after)
    owners = fleet.owned(fleet.snapshot(), members)
    assert owners is not None
    return owners


def test_three_replicas_share_24_stores_evenly_and_a_pin_holds(fleet: Fleet) -> None:
    """Acceptance 1 and 6."""
    free = fleet.expected(NAMES)
    pinned = next(s for s in sorted(free) if free[s] != NAMES[2])
    fleet.pins[pinned] = NAMES[2]  # somewhere the hash would not put it
    since = fleet.start_all(NAMES)
    owners = settle(fleet, NAMES, since, "3 replicas start")
    assert time.monotonic() - since > 0
    assert MEASURED["3 replicas start owned"] <= 3 * RENEW + 0.5, MEASURED
    cap = cap_for(STORES, len(NAMES))
    assert cap is not None
    for name in NAMES:
        count = sum(1 for owner in owners.values() if owner == name)
        assert 1 <= count <= cap, (name, count, cap)
    assert owners[pinned] == NAMES[2]


def test_a_killed_replicas_stores_are_taken_over_within_ttl_and_two_renewals(
    fleet: Fleet,
) -> None:
    """Acceptance 2: SIGKILL; sampled every 0.2 s, never two writers."""
    since = fleet.start_all(NAMES)
    before = settle(fleet, NAMES, since, "3 replicas start")
    victim = fleet.replicas[0]
    theirs = sorted(s for s, owner in before.items() if owner == victim.name)
    victim.daemon.send(signal.SIGKILL)
    killed = time.monotonic()
    victim.daemon.wait_exit(10)
    survivors = NAMES[1:]
    after = settle(fleet, survivors, killed, "SIGKILL takeover")
    assert all(after[s] in survivors for s in theirs)
    assert MEASURED["SIGKILL takeover locked"] <= TTL + 2 * RENEW + 0.5, MEASURED
    moved = [s for s in before if before[s] != after[s] and s not in theirs]
    assert len(moved) <= STORES // 4, moved  # the survivors keep (nearly) all of their own


def test_a_terminated_replica_hands_over_at_once(fleet: Fleet) -> None:
    """Acceptance 3: SIGTERM deletes the membership Lease and releases the locks."""
    since = fleet.start_all(NAMES)
    before = settle(fleet, NAMES, since, "3 replicas start")
    leaving = fleet.replicas[1]
    theirs = sorted(s for s, owner in before.items() if owner == leaving.name)
    leaving.daemon.send(signal.SIGTERM)
    termed = time.monotonic()
    assert leaving.daemon.wait_exit(30) == 0, leaving.daemon.text()[-2000:]
    exited = time.monotonic()
    report("SIGTERM exit", exited - termed)
    assert leaving.name not in fleet.leases()
    assert all(fleet.lock_pid(s) != leaving.pid for s in theirs)
    survivors = [n for n in NAMES if n != leaving.name]
    settle(fleet, survivors, exited, "SIGTERM takeover")
    assert MEASURED["SIGTERM takeover locked"] <= 2 * RENEW + 0.5, MEASURED


def test_a_fourth_replica_joins_and_takes_its_share(fleet: Fleet) -> None:
    """Acceptance 4: at most half the stores move; the newcomer gets what assign() says."""
    since = fleet.start_all(NAMES)
    before = settle(fleet, NAMES, since, "3 replicas start")
    newcomer = "kops-gitsync-d"
    fleet.start(newcomer)
    fleet.wait_leases([*NAMES, newcomer], time.monotonic())
    joined = time.monotonic()  # its Lease appeared: it has opened its stores
    after = settle(fleet, [*NAMES, newcomer], joined, "4th replica joins")
    moved = [s for s in before if before[s] != after[s]]
    mine = [s for s in after if after[s] == newcomer]
    print(f"\nMEASURED join: {len(moved)} stores moved, newcomer owns {len(mine)}")
    assert len(moved) <= STORES // 2, moved
    assert mine and set(mine) <= set(moved)
    assert MEASURED["4th replica joins owned"] <= 3 * RENEW + 0.5, MEASURED  # as acceptance 1
    cap = cap_for(STORES, 4)
    assert cap is not None and len(mine) <= cap


def test_api_server_away_for_two_ttls_stops_writes_and_recovers(
    fleet: Fleet, real_kube_api: RealKubeApiServer,
) -> None:
    """Acceptance 5: the API server frozen for 2 TTLs: every replica owns nothing, holds no
    lock and keeps running; once it answers again, acceptance 1 holds again."""
    since = fleet.start_all(NAMES)
    settle(fleet, NAMES, since, "3 replicas start")
    real_kube_api.pause()
    paused = time.monotonic()
    try:
        def stopped(snap: Snapshot) -> bool:
            return len(snap.states) == len(NAMES) and all(
                st.get("membership_valid") is False
                and all(i.get("lease") != "held" for i in st["stores"].values())
                for st in snap.states.values()) and not any(snap.locks.values())

        report("API away: all replicas stopped", fleet.wait(
            "replicas to stop writing", stopped, since=paused))
        # nothing written from then on: no lock object comes back, nobody claims a store
        while time.monotonic() - paused < 2 * TTL:
            snap = fleet.snapshot()
            assert stopped(snap), fleet.describe(snap)
            time.sleep(SAMPLE)
        assert [r.name for r in fleet.live()] == NAMES
    finally:
        real_kube_api.resume()
    resumed = time.monotonic()
    settle(fleet, NAMES, resumed, "API back")
    assert MEASURED["API back owned"] <= 3 * RENEW + 2.0, MEASURED
