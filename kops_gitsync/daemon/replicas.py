"""Several daemon replicas share the stores: which stores this replica tries, and when not.

The daemon loop (engine.py) asks :meth:`Replicas.update` every turn of the loop (at least
twice per membership renew interval): it reads the live members from the membership Leases
(daemon/membership.py, renewed by their own thread), computes the assignment
(daemon/assignment.py, a pure function every replica evaluates alike) and:

* gives every store lease a *gate* (:attr:`Lease.gate`): a store assigned to another replica,
  or any store while this replica's own membership Lease is not current
  (:meth:`Membership.valid`, false when the API server has not answered for a whole lease
  duration), may not be taken, renewed or written. The gate is asked live, before every store
  write (runner.LeaseGuardedStore), not only once per turn;
* releases the lease of a store it no longer owns at once, after writing the state file (so
  the state file never shows a claim after the lock is gone), so the new owner takes it
  within one renew interval instead of one store-lock TTL;
* takes the lease of a store it gained at once (the keeper would only try after TTL/4).

The store lock stays the only thing that authorises a write: two replicas that briefly
disagree about the members both ask their gate, and only one of them can hold the lock.
Nothing here raises into the loop or exits the process: API failures are counted by the
membership and shown in the state file, the metrics and the log.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.assignment import assign
from kops_gitsync.daemon.membership import DEFAULT_DURATION, Membership
from kops_gitsync.daemon.state import DaemonState
from kops_gitsync.errors import FatalError, MissingDependency

if TYPE_CHECKING:
    from kops_gitsync.daemon.metrics import Metrics
    from kops_gitsync.daemon.runner import StoreRunner

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# A Lease name is an RFC 1123 subdomain.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MIN_DURATION = 3.0  # renewed every third: at least once a second


@dataclass(frozen=True)
class ReplicaOptions:
    """``--membership kubernetes`` and its settings, resolved."""

    namespace: str
    member_name: str
    lease_duration: float = DEFAULT_DURATION


def resolve_options(
    membership: str, namespace: str | None, member_name: str | None, duration: float,
    env: Mapping[str, str], namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> ReplicaOptions | None:
    """The flags with their defaults filled in (None for ``--membership none``)."""
    if membership == "none":
        return None
    if duration < MIN_DURATION:
        raise FatalError(f"--member-lease-duration {duration:g}: at least {MIN_DURATION:g} "
                         "seconds (it is renewed every third)")
    if not namespace:
        namespace = env.get("POD_NAMESPACE")
    if not namespace:
        try:
            namespace = namespace_file.read_text(encoding="utf-8").strip()
        except OSError:
            namespace = None
    if not namespace:
        raise FatalError("--membership kubernetes: no namespace for the membership Leases: "
                         f"pass --namespace, set POD_NAMESPACE, or run in a pod ({namespace_file})")
    name = member_name or env.get("POD_NAME") or socket.gethostname()
    for flag, value in (("--namespace", namespace), ("--member-name", name)):
        if len(value) > 253 or not _NAME.match(value):
            raise FatalError(f"{flag} {value!r}: not a Kubernetes object name (lowercase "
                             "letters, digits, '-' and '.', at most 253)")
    return ReplicaOptions(namespace, name, duration)


def connect(env: Mapping[str, str]) -> Any:
    """A ``CoordinationV1Api``: in-cluster when ``KUBERNETES_SERVICE_HOST`` is set, else the
    kubeconfig (``KUBECONFIG``, else ``~/.kube/config``). Nothing is asked of the server yet:
    an unreachable one only makes the membership invalid, never stops the daemon."""
    try:
        from kubernetes import client, config
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            "--membership kubernetes needs the Python package 'kubernetes': "
            "pip install 'kops-gitsync[k8s]'") from exc
    from kops_gitsync.vfs.k8s_mapping import kubeconfig_path

    settings = client.Configuration()
    where = "the in-cluster service account"
    try:
        if env.get("KUBERNETES_SERVICE_HOST"):
            incluster: Any = config.load_incluster_config  # untyped in kubernetes 37
            incluster(client_configuration=settings)
        else:
            where = f"kubeconfig {kubeconfig_path(env)}"
            loader: Any = config.load_kube_config  # untyped in kubernetes 37
            loader(config_file=kubeconfig_path(env), client_configuration=settings,
                   persist_config=False)
    except Exception as exc:  # ConfigException, OSError, YAML errors: all one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise FatalError(f"--membership kubernetes: cannot use {where}: {text}") from None
    settings.retries = False  # the membership retries every renew interval by itself
    return client.CoordinationV1Api(client.ApiClient(settings))


class Replicas:
    """This replica's view: its membership, the assignment, the stores it owns."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.owned: frozenset[str] = frozenset()  # store names
        self.assignment: dict[str, str | None] = {}  # store name -> member (None: nobody)
        self._members: list[str] = []
        self._valid: bool | None = None
        self._failures_reported = 0
        self._started = False  # before start(): not a member yet, owns nothing, says nothing

    @classmethod
    def from_options(cls, options: ReplicaOptions, env: Mapping[str, str]) -> Replicas:
        return cls(Membership(connect(env), options.namespace, options.member_name,
                              duration=options.lease_duration))

    @property
    def name(self) -> str:
        return self.membership.name

    def start(self) -> None:
        """Renew once (never raises), then keep renewing in the membership's thread."""
        self.membership.start()
        self._started = True
        logs.event(action="membership", result="started", member=self.name,
                   namespace=self.membership.namespace, valid=self.membership.valid(),
                   duration=self.membership.duration)

    def stop(self) -> None:
        """Cancel the renewals and delete this replica's Lease (after the store locks are
        released: the others take the stores the moment they see it gone)."""
        self.membership.stop(release=True)
        logs.event(action="membership", result="released", member=self.name)

    def wait(self) -> float:
        """The longest the loop may sleep: half a renew interval."""
        return self.membership.renew_interval / 2

    def owns(self, store: str) -> bool:
        return store in self.owned and self.membership.valid()

    def refusal(self, store: str) -> str | None:
        """The lease gate of ``store``: why this replica may not hold it now, or None."""
        if not self.membership.valid():
            return (f"the membership Lease {self.membership.namespace}/{self.name} was not "
                    f"renewed for {self.membership.duration:g} s (API server unreachable?): "
                    "this replica owns no store")
        if store not in self.owned:
            return f"assigned to replica {self.assignment.get(store) or '(none)'}, not {self.name}"
        return None

    def _gate(self, store: str) -> Callable[[], str | None]:
        return lambda: self.refusal(store)

    def update(self, runners: Mapping[str, StoreRunner], state: DaemonState,
               publish: Callable[[], None], lease_changed: Callable[[str, bool], None],
               poke: Callable[[str, str], None], metrics: Metrics | None = None) -> list[str]:
        """Recompute the assignment; release what is no longer ours, take what became ours.

        Returns the stores gained. ``publish`` writes the state file (called before any
        release), ``lease_changed`` and ``poke`` are the loop's own callbacks.
        """
        try:
            return self._update(runners, state, publish, lease_changed, poke)
        finally:
            if metrics is not None:
                self.measure(metrics)

    def _update(self, runners: Mapping[str, StoreRunner], state: DaemonState,
                publish: Callable[[], None], lease_changed: Callable[[str, bool], None],
                poke: Callable[[str, str], None]) -> list[str]:
        members = self.membership.members()  # [] while this replica is not valid
        urls = {name: runner.ctx.url for name, runner in runners.items()}
        pins = {runner.ctx.url: runner.ctx.config.replica for runner in runners.values()
                if runner.ctx.config.replica}
        by_url = assign(set(urls.values()), members, pins)
        assignment = {name: by_url.get(url) for name, url in urls.items()}
        owned = frozenset(name for name, member in assignment.items() if member == self.name)
        gained = sorted(owned - self.owned)
        lost = sorted(name for name, runner in runners.items() if name not in owned
                      and runner.lease is not None and runner.lease.held)
        if owned != self.owned or members != self._members:
            logs.event(action="assignment", result="changed", member=self.name,
                       members=",".join(members), owned=len(owned), gained=",".join(gained),
                       lost=",".join(lost))
            self._members = members
        for name, runner in runners.items():
            runner.state.owner = assignment[name]
            if runner.lease is not None and runner.lease.gate is None:
                runner.lease.gate = self._gate(name)
        self._fill(state, members)
        if lost:
            # The state file stops claiming them (owner is another replica now) before the
            # gate refuses them, so no reader sees this claim once anyone else can take them.
            publish()
        self.owned, self.assignment = owned, assignment
        for name in lost:
            lease = runners[name].lease
            if lease is not None and _quietly(name, "release", lease.release):
                lease_changed(name, False)
        now = time.time()
        for name in sorted(owned):
            mine = runners[name].lease
            # Take a gained store's lock now, and retry one whose holder's lock has expired
            # (a dead replica's) without waiting for the keeper's next tick (TTL/4).
            if mine is None or mine.held:
                continue
            expired = mine.holder is not None and mine.holder.expires < now
            if (name in gained or expired) and _quietly(name, "take", mine.tick):
                lease_changed(name, mine.held)
        for name in gained:
            poke(name, "assigned")
        return gained

    def _fill(self, state: DaemonState, members: list[str]) -> None:
        counters = self.membership.counters
        valid = self.membership.valid()
        state.member = self.name
        state.members = members
        state.membership_valid = valid
        state.api_answered = counters.renewals > 0 or counters.lists > 0
        if valid != self._valid and self._started:
            logs.event(logging.INFO if valid else logging.WARNING,
                       "" if valid else "membership Lease not renewed within its duration: "
                       "this replica owns no store and writes nothing until it is",
                       action="membership", result="valid" if valid else "invalid",
                       member=self.name, renew_failures=counters.renew_failures)
            self._valid = valid

    def measure(self, metrics: Metrics) -> None:
        """Members, stores owned and renew failures, for ``/metrics``."""
        counters = self.membership.counters
        new = counters.renew_failures - self._failures_reported
        self._failures_reported = counters.renew_failures
        metrics.replicas(len(self._members), len(self.owned), new)


def _quietly(store: str, what: str, step: Callable[[], object]) -> bool:
    """``step()`` (a lease's take or release) as the keeper thread runs it: an unexpected
    error is logged and leaves the lease to the keeper's next tick, never stops the loop.
    True when it ran and (for a take) changed something."""
    try:
        result = step()
    except Exception as exc:
        logs.event(logging.WARNING, f"lease {what} failed: {exc}", store=store, action="lease",
                   result="error")
        return False
    return result is None or bool(result)
