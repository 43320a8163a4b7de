"""daemon/replicas.py in-process: the lease gate, releases, pins, the state fields, the flags.

Real review repositories, real ``file://`` stores and their lock objects, the real
Membership; only the Kubernetes API is an in-memory double here (tests/daemon/
test_replicas_real.py runs the same on a real kube-apiserver, as subprocesses).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.daemon.assignment import assign
from kops_gitsync.daemon.carryover import carry_over
from kops_gitsync.daemon.membership import Membership
from kops_gitsync.daemon.replicas import Replicas, resolve_options
from kops_gitsync.daemon.runner import LeaseGuardedStore, StoreRunner
from kops_gitsync.daemon.state import DaemonState
from kops_gitsync.errors import FatalError, FatalStoreError
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.policy import LOCK_KEY
from tests.daemon.conftest import make_repo

pytest.importorskip("kubernetes", reason="the k8s extra is not installed")


class LeaseApi:
    """Just enough of ``CoordinationV1Api`` for Membership: Leases in a dict, CAS on
    resourceVersion; ``down`` makes every call fail as an unreachable server does."""

    def __init__(self) -> None:
        self.leases: dict[str, Any] = {}
        self.versions = itertools.count(1)
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionRefusedError("API server unreachable")

    def _store(self, body: Any) -> Any:
        body.metadata.resource_version = str(next(self.versions))
        self.leases[body.metadata.name] = body
        return body

    def create_namespaced_lease(self, namespace: str, body: Any, **_: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        self._check()
        if body.metadata.name in self.leases:
            raise ApiException(status=409, reason="Conflict")
        return self._store(body)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **_: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        self._check()
        current = self.leases.get(name)
        if current is not None and current.metadata.resource_version != \
                body.metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        return self._store(body)

    def list_namespaced_lease(self, namespace: str, **_: Any) -> Any:
        from kubernetes import client

        self._check()
        return client.V1LeaseList(items=list(self.leases.values()))

    def delete_namespaced_lease(self, name: str, namespace: str, **_: Any) -> None:
        self._check()
        self.leases.pop(name, None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


STORES = [f"s{n}" for n in range(6)]


@pytest.fixture
def stores(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for name in STORES:
        made[name] = tmp_path / "stores" / name
        made[name].mkdir(parents=True)
    return made


def runners_for(tmp_path: Path, stores: dict[str, Path], label: str,
                pins: dict[str, str] | None = None) -> dict[str, StoreRunner]:
    config = [{"name": n, "state": f"file://{d}", "auto_push": True,
               **({"replica": pins[n]} if pins and n in pins else {})}
              for n, d in stores.items()]
    repo = make_repo(tmp_path / f"repo-{label}", config)
    return carry_over({}, open_contexts(repo, None, None, {}), 8.0, 0.0)


class Hooks:
    """The loop's callbacks, recording what they were asked and what the store held then."""

    def __init__(self, stores: dict[str, Path]) -> None:
        self.stores = stores
        self.published_with_locks: list[list[str]] = []
        self.changes: list[tuple[str, bool]] = []
        self.pokes: list[str] = []

    def publish(self) -> None:
        self.published_with_locks.append(
            sorted(n for n, d in self.stores.items() if (d / LOCK_KEY).exists()))

    def changed(self, name: str, held: bool) -> None:
        self.changes.append((name, held))

    def poke(self, name: str, reason: str) -> None:
        self.pokes.append(name)

    def update(self, replicas: Replicas, runners: dict[str, StoreRunner],
               state: DaemonState) -> list[str]:
        return replicas.update(runners, state, self.publish, self.changed, self.poke)


def urls(runners: dict[str, StoreRunner]) -> dict[str, str]:
    return {name: r.ctx.url for name, r in runners.items()}


def expected(runners: dict[str, StoreRunner], members: list[str],
             pins: dict[str, str] | None = None) -> dict[str, str]:
    by_url = assign(urls(runners).values(), members,
                    {runners[s].ctx.url: m for s, m in (pins or {}).items()})
    return {name: by_url[url] for name, url in urls(runners).items()}


def make_replica(api: LeaseApi, name: str, clock: Clock) -> Replicas:
    return Replicas(Membership(api, "ns", name, duration=3.0, clock=clock))


def test_a_replica_takes_only_its_own_stores_and_fills_the_state(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    api, clock = LeaseApi(), Clock()
    a, b = make_replica(api, "rep-a", clock), make_replica(api, "rep-b", clock)
    b.membership.tick()
    a.membership.tick()
    runners = runners_for(tmp_path, stores, "a")
    state, hooks = DaemonState(), Hooks(stores)
    gained = hooks.update(a, runners, state)
    want = expected(runners, ["rep-a", "rep-b"])
    mine = sorted(s for s, m in want.items() if m == "rep-a")
    assert gained == mine and sorted(hooks.pokes) == mine
    for name, runner in runners.items():
        assert runner.state.owner == want[name]
        assert runner.lease is not None
        assert runner.lease.held == (name in mine)
        if name not in mine:  # the gate keeps the keeper's tick from taking it
            assert not runner.lease.tick() and not runner.lease.held
            assert "assigned to replica rep-b" in (runner.lease.refused() or "")
    assert (state.member, state.members) == ("rep-a", ["rep-a", "rep-b"])
    assert state.membership_valid is True and state.api_answered is True


def test_a_store_that_moves_away_is_released_after_the_state_stops_claiming_it(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    api, clock = LeaseApi(), Clock()
    a = make_replica(api, "rep-a", clock)
    a.membership.tick()
    runners = runners_for(tmp_path, stores, "a")
    state, hooks = DaemonState(), Hooks(stores)
    assert hooks.update(a, runners, state) == STORES  # alone: everything
    assert all((d / LOCK_KEY).exists() for d in stores.values())
    b = make_replica(api, "rep-b", clock)
    b.membership.tick()
    a.membership.observe()
    hooks.update(a, runners, state)
    theirs = sorted(s for s, m in expected(runners, ["rep-a", "rep-b"]).items() if m == "rep-b")
    assert theirs
    # published while the locks were still there, with the state already not claiming them
    assert hooks.published_with_locks == [STORES]
    assert sorted(n for n, d in stores.items() if not (d / LOCK_KEY).exists()) == theirs
    assert sorted(n for n, held in hooks.changes if not held) == theirs


def test_a_lapsed_membership_owns_nothing_and_no_write_gets_through(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    api, clock = LeaseApi(), Clock()
    a = make_replica(api, "rep-a", clock)
    a.membership.tick()
    runners = runners_for(tmp_path, stores, "a")
    state, hooks = DaemonState(), Hooks(stores)
    hooks.update(a, runners, state)
    lease = runners["s0"].lease
    assert lease is not None and lease.valid()
    guarded = LeaseGuardedStore(runners["s0"].ctx.store, lease)
    guarded.write("c/config", b"one\n")
    api.down = True
    clock.now += 3.5  # one renewal failed, and the duration has passed since the last one
    a.membership.tick()
    assert not a.membership.valid()
    with pytest.raises(FatalStoreError, match="membership Lease ns/rep-a was not renewed"):
        guarded.write("c/config", b"two\n")  # asked live: before the loop even noticed
    assert (stores["s0"] / "c" / "config").read_bytes() == b"one\n"
    hooks.update(a, runners, state)
    assert a.owned == frozenset() and state.members == []
    assert state.membership_valid is False and state.api_answered is True
    assert not any((d / LOCK_KEY).exists() for d in stores.values())
    api.down = False
    clock.now += 1.0
    a.membership.tick()
    assert sorted(hooks.update(a, runners, state)) == STORES


def test_a_pinned_store_stays_with_its_live_replica_and_moves_when_it_is_gone(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    api, clock = LeaseApi(), Clock()
    a, b = make_replica(api, "rep-a", clock), make_replica(api, "rep-b", clock)
    b.membership.tick()
    a.membership.tick()
    probe = runners_for(tmp_path, stores, "probe")
    free = expected(probe, ["rep-a", "rep-b"])
    pinned = next(s for s in STORES if free[s] == "rep-a")
    runners = runners_for(tmp_path, stores, "a", pins={pinned: "rep-b"})
    state, hooks = DaemonState(), Hooks(stores)
    hooks.update(a, runners, state)
    assert runners[pinned].state.owner == "rep-b" and pinned not in a.owned
    b.membership.stop()  # deleted: rep-a is alone and takes the pinned store too
    a.membership.observe()
    hooks.update(a, runners, state)
    assert pinned in a.owned


def test_pins_are_checked_in_the_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"name": "a", "state": "file:///x",
                                          "replica": "Not_A_Pod"}])
    with pytest.raises(FatalError, match=r"stores\[0\]\.replica: 'Not_A_Pod' is not allowed"):
        open_contexts(repo, None, None, {})


@pytest.mark.parametrize(("args", "env", "files", "want"), [
    (("none", None, None, 15.0), {}, None, None),
    (("kubernetes", "flag-ns", "r-1", 15.0), {"POD_NAMESPACE": "env-ns"}, None,
     ("flag-ns", "r-1")),
    (("kubernetes", None, None, 15.0), {"POD_NAMESPACE": "env-ns", "POD_NAME": "pod-7"}, None,
     ("env-ns", "pod-7")),
    (("kubernetes", None, "r-1", 15.0), {}, "sa-ns\n", ("sa-ns", "r-1")),
])
def test_flags_take_their_defaults_from_the_pod(
    tmp_path: Path, args: tuple[Any, ...], env: dict[str, str], files: str | None,
    want: tuple[str, str] | None,
) -> None:
    namespace_file = tmp_path / "namespace"
    if files is not None:
        namespace_file.write_text(files)
    membership, namespace, member, duration = args
    got = resolve_options(membership, namespace, member, duration, env,
                          namespace_file=namespace_file)
    if want is None:
        assert got is None
    else:
        assert got is not None and (got.namespace, got.member_name) == want


@pytest.mark.parametrize(("args", "message"), [
    (("kubernetes", None, "r-1", 15.0), "no namespace for the membership Leases"),
    (("kubernetes", "ns", "Bad_Name", 15.0), "--member-name 'Bad_Name': not a Kubernetes"),
    (("kubernetes", "ns", "r-1", 2.0), "--member-lease-duration 2: at least 3"),
])
def test_bad_flags_are_one_line(tmp_path: Path, args: tuple[Any, ...], message: str) -> None:
    membership, namespace, member, duration = args
    with pytest.raises(FatalError, match=message):
        resolve_options(membership, namespace, member, duration, {},
                        namespace_file=tmp_path / "absent")


def run_daemon(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo),
         "--membership", "kubernetes", "--namespace", "ns", "--member-name", "r-1", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env})


@pytest.mark.parametrize("kubeconfig", ["missing", "broken"])
def test_an_unusable_kubeconfig_is_one_line(
    tmp_path: Path, stores: dict[str, Path], kubeconfig: str,
) -> None:
    repo = make_repo(tmp_path / "repo", [{"name": "a", "state": f"file://{stores['s0']}"}])
    path = tmp_path / "kubeconfig"
    if kubeconfig == "broken":
        path.write_text("clusters: [this is: not a kubeconfig\n")
    env = {"KUBECONFIG": str(path)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = run_daemon(repo, env=env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and f"cannot use kubeconfig {path}" in lines[0], done.stderr


def test_without_the_kubernetes_package_the_error_says_what_to_install(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    import os

    shadow = tmp_path / "shadow" / "kubernetes"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'kubernetes'\", name='kubernetes')\n")
    repo = make_repo(tmp_path / "repo", [{"name": "a", "state": f"file://{stores['s0']}"}])
    path = f"{shadow.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    done = run_daemon(repo, env={"PYTHONPATH": path})
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "pip install 'kops-gitsync[k8s]'" in done.stderr


def test_metrics_show_members_stores_owned_and_renew_failures(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    from kops_gitsync.daemon.metrics import Metrics

    pytest.importorskip("prometheus_client", reason="the daemon extra is not installed")
    metrics = Metrics()
    metrics.serve()
    api, clock = LeaseApi(), Clock()
    a = make_replica(api, "rep-a", clock)
    a.membership.tick()
    api.down = True
    assert not a.membership.renew() and not a.membership.renew()  # still valid: 3 s
    runners = runners_for(tmp_path, stores, "a")
    hooks = Hooks(stores)
    a.update(runners, DaemonState(), hooks.publish, hooks.changed, hooks.poke, metrics)
    text = metrics.exposition().decode()
    assert "kops_gitsync_members 1.0" in text
    assert f"kops_gitsync_stores_owned {float(len(STORES))}" in text
    assert "kops_gitsync_membership_renew_failures_total 2.0" in text


def test_a_reload_that_pins_a_store_elsewhere_hands_it_over(
    tmp_path: Path, stores: dict[str, Path],
) -> None:
    """SIGHUP's path: carry_over keeps the leases (and their gates), the next update moves the
    newly pinned store and releases its lock."""
    from tests.daemon.conftest import yaml_config

    api, clock = LeaseApi(), Clock()
    a, b = make_replica(api, "rep-a", clock), make_replica(api, "rep-b", clock)
    b.membership.tick()
    a.membership.tick()
    runners = runners_for(tmp_path, stores, "a")
    state, hooks = DaemonState(), Hooks(stores)
    hooks.update(a, runners, state)
    moving = sorted(a.owned)[0]
    repo = tmp_path / "repo-a"
    config = [{"name": n, "state": f"file://{d}", "auto_push": True,
               **({"replica": "rep-b"} if n == moving else {})} for n, d in stores.items()]
    (repo / ".kops-gitsync.yaml").write_text(yaml_config(config))
    runners = carry_over(runners, open_contexts(repo, None, None, {}), 8.0, 1.0)
    assert (stores[moving] / LOCK_KEY).exists()  # carried over, still held
    hooks.update(a, runners, state)
    assert moving not in a.owned and runners[moving].state.owner == "rep-b"
    assert not (stores[moving] / LOCK_KEY).exists()
    assert all((stores[n] / LOCK_KEY).exists() for n in a.owned)
