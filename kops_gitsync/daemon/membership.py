"""Who the live replicas are: one ``coordination.k8s.io/v1`` Lease per replica.

Several daemon replicas on Kubernetes share the stores (daemon/assignment.py decides who tries
which). Each replica keeps a Lease named after its pod, labelled
``app.kubernetes.io/name=kops-gitsync``, and renews it every ``duration / 3``; the Leases with
that label are the member list. The Lease only says who *tries* a store: the lock kept in the
store stays the only thing that authorises a write, so a stale member list delays a store and
never gives it two writers.

Why not compare ``renewTime``: it is another pod's wall clock. A member is live when this
replica saw its Lease *change* (a new ``resourceVersion``) within the Lease's duration, timed
by this replica's own monotonic clock, as client-go's leader election does. A Lease seen for
the first time counts as a change (a replica that starts next to a dead one's leftover Lease
keeps it for one duration at most).

Renewal is a compare-and-swap: a replace carrying the ``resourceVersion`` this replica last
wrote. A 409 means someone else wrote the Lease (the same pod name reused, or a reply lost):
it is re-read and taken back on the next renewal, counted in ``conflicts``. A failed renewal is
counted and logged, never raised: the loop keeps going, and :meth:`Membership.valid` turns
false once the last success is older than the duration, so a replica cut off from the API
server stops counting itself in. Nothing here exits the process; :meth:`stop` cancels the loop
and deletes the Lease (with its ``resourceVersion`` as precondition).

The kubernetes client is imported only when a Membership is made (the CLI never pays for it).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

LABEL_KEY = "app.kubernetes.io/name"
LABEL_VALUE = "kops-gitsync"
DEFAULT_DURATION = 15.0
REQUEST_TIMEOUT = (5.0, 10.0)  # connect, read: the client sets none by itself


def why(exc: BaseException) -> str:
    """One log line for a failed API call, with what to grant when the answer is 401/403.

    The client's ApiException prints its HTTP headers and JSON body over many lines."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        text = f"{status} {getattr(exc, 'reason', '') or ''}".strip()
        if status in (401, 403):
            text += (" (the ServiceAccount needs get, list, create, update and delete on "
                     "coordination.k8s.io leases in this namespace: deploy/base/rbac.yaml)")
        return text
    return " ".join(str(exc).split())


def micro_time(when: datetime.datetime) -> datetime.datetime:
    """``when``, made safe to send as the API server's MicroTime (six decimals required).

    The client serialises datetimes with ``isoformat()``, which drops the decimals at a whole
    second; the server then refuses the Lease (400), once in a million renewals. The client's
    models turn strings back into datetimes, so the only fix on this side is to never send a
    whole second: it is moved by one microsecond.
    """
    when = when.astimezone(datetime.UTC)
    return when if when.microsecond else when.replace(microsecond=1)


@dataclass
class Seen:
    """One Lease as this replica last saw it, timed by the local monotonic clock."""

    version: str
    at: float
    duration: float


@dataclass
class Counters:
    renewals: int = 0
    renew_failures: int = 0
    conflicts: int = 0
    lists: int = 0
    list_failures: int = 0


@dataclass
class Membership:
    """The Lease of this replica and the others it sees.

    ``api`` is a ``kubernetes.client.CoordinationV1Api``; ``name`` the pod name (the Lease's
    name); ``namespace`` where all replicas keep their Leases.
    """

    api: Any
    namespace: str
    name: str
    duration: float = DEFAULT_DURATION
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    identity: str = ""
    counters: Counters = field(default_factory=Counters)
    _version: str | None = field(default=None, init=False)
    _renewed_at: float | None = field(default=None, init=False)
    _seen: dict[str, Seen] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.duration < 1:
            raise ValueError(f"lease duration {self.duration} s: at least 1 s")
        if not self.identity:  # the pod name alone cannot tell a restarted process apart
            self.identity = f"{self.name}_{uuid.uuid4().hex[:8]}"

    @property
    def renew_interval(self) -> float:
        return self.duration / 3

    # -- one step each -------------------------------------------------------------------

    def _body(self, version: str | None) -> Any:
        from kubernetes import client

        now = micro_time(self.wall())
        return client.V1Lease(
            api_version="coordination.k8s.io/v1", kind="Lease",
            metadata=client.V1ObjectMeta(
                name=self.name, namespace=self.namespace, resource_version=version,
                labels={LABEL_KEY: LABEL_VALUE}),
            spec=client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=max(1, round(self.duration)),
                renew_time=now, acquire_time=now if version is None else None),
        )

    def renew(self) -> bool:
        """Create or compare-and-swap this replica's Lease once; True when it was written."""
        from kubernetes.client.exceptions import ApiException

        started = self.clock()
        try:
            if self._version is None:
                try:
                    written = self.api.create_namespaced_lease(
                        self.namespace, self._body(None), _request_timeout=REQUEST_TIMEOUT)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    self._version = self._read_version()  # ours from before, or a namesake
                    written = self.api.replace_namespaced_lease(
                        self.name, self.namespace, self._body(self._version),
                        _request_timeout=REQUEST_TIMEOUT)
            else:
                written = self.api.replace_namespaced_lease(
                    self.name, self.namespace, self._body(self._version),
                    _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            self.counters.renew_failures += 1
            if exc.status == 409:
                self.counters.conflicts += 1
                self._version = self._safe_read_version()  # CAS against it next time
            elif exc.status == 404:
                self._version = None  # deleted under us: create it again next time
            log.warning("membership lease %s/%s: renewal refused: %s",
                        self.namespace, self.name, why(exc))
            return False
        except Exception as exc:  # unreachable, timeout: never out of the loop
            self.counters.renew_failures += 1
            log.warning("membership lease %s/%s: renewal failed: %s",
                        self.namespace, self.name, why(exc))
            return False
        with self._lock:
            self._version = str(written.metadata.resource_version)
            self._renewed_at = started  # the write began no earlier than this
            self.counters.renewals += 1
        return True

    def _read_version(self) -> str | None:
        found = self.api.read_namespaced_lease(
            self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT)
        return str(found.metadata.resource_version)

    def _safe_read_version(self) -> str | None:
        try:
            return self._read_version()
        except Exception:
            return None

    def observe(self) -> bool:
        """List the member Leases once and note which changed; True when the list worked."""
        try:
            found = self.api.list_namespaced_lease(
                self.namespace, label_selector=f"{LABEL_KEY}={LABEL_VALUE}",
                _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            self.counters.list_failures += 1
            log.warning("membership: listing the Leases in %s failed: %s", self.namespace,
                        why(exc))
            return False
        now = self.clock()
        with self._lock:
            self.counters.lists += 1
            present = set()
            for lease in found.items:
                name = str(lease.metadata.name)
                present.add(name)
                version = str(lease.metadata.resource_version)
                declared = (lease.spec.lease_duration_seconds if lease.spec else None)
                duration = float(declared or self.duration)
                before = self._seen.get(name)
                if before is None or before.version != version:
                    self._seen[name] = Seen(version, now, duration)
                else:
                    before.duration = duration
            for gone in set(self._seen) - present:  # deleted: released on stop
                del self._seen[gone]
        return True

    # -- what the daemon asks ----------------------------------------------------------------

    def valid(self) -> bool:
        """This replica's own Lease was renewed within its duration (by the local clock)."""
        with self._lock:
            return self._renewed_at is not None and self.clock() - self._renewed_at < self.duration

    def members(self) -> list[str]:
        """The live members, sorted: Leases seen changing within their duration; this replica
        only while :meth:`valid`; nobody at all when this replica is not valid."""
        if not self.valid():
            return []
        now = self.clock()
        with self._lock:
            live = {name for name, seen in self._seen.items() if now - seen.at < seen.duration}
        live.add(self.name)
        return sorted(live)

    # -- the loop ----------------------------------------------------------------------------

    def tick(self) -> None:
        self.renew()
        self.observe()

    def run(self) -> None:
        """Renew and observe every ``duration / 3`` until :meth:`stop`; never raises."""
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.renew_interval)

    def start(self) -> Membership:
        """Renew once (so ``valid()`` is known at once), then keep renewing in a thread."""
        self._stop.clear()
        self.tick()
        self._thread = threading.Thread(
            target=self.run, name=f"membership-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 15.0) -> None:
        """Cancel the loop and (by default) delete this replica's Lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if release:
            self.release()

    def release(self) -> None:
        """Delete this replica's Lease if it is still the one written here."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        with self._lock:
            version, self._version, self._renewed_at = self._version, None, None
        if version is None:
            return
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=version))
        try:
            self.api.delete_namespaced_lease(
                self.name, self.namespace, body=options, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone already, or no longer ours: leave it
                log.warning("membership lease %s/%s: release refused: %s",
                            self.namespace, self.name, why(exc))
        except Exception as exc:
            log.warning("membership lease %s/%s: release failed: %s",
                        self.namespace, self.name, why(exc))
