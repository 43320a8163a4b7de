"""The Prometheus metrics the daemon keeps; served as ``/metrics`` by its HTTP endpoints.

prometheus-client (the ``daemon`` extra) does the bookkeeping and the exposition format;
it is imported only when the endpoints start, so a daemon without ``--metrics-port`` needs
neither the package nor a listening socket. The HTTP server is not prometheus-client's:
kops_gitsync/daemon/endpoints.py serves the probes and the status page on the same port,
and they must answer even when the package is missing.

Every method is a no-op when metrics are off, so the loop never asks whether they are on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kops_gitsync.daemon.state import StoreState
from kops_gitsync.errors import MissingDependency

PREFIX = "kops_gitsync"
# S3 Standard in us-east-1 (2025), per request: LIST and PUT $0.005 per 1,000, GET and HEAD
# $0.0004 per 1,000. Other stores charge in the same range; an estimate, not a bill.
PRICE_PER_REQUEST = {"LIST": 0.005 / 1000, "PUT": 0.005 / 1000, "DELETE": 0.0,
                     "GET": 0.0004 / 1000, "HEAD": 0.0004 / 1000, "OTHER": 0.0004 / 1000}


def hourly_request_cost(per_pass: Mapping[str, int], interval: float) -> tuple[float, int, float]:
    """(passes per hour, requests per hour, dollars per hour) of a poll every ``interval``
    seconds that sends ``per_pass`` requests (by kind) each time."""
    passes = 3600.0 / interval
    requests = sum(per_pass.values()) * passes
    dollars = sum(count * PRICE_PER_REQUEST.get(kind, 0.0) for kind, count in per_pass.items())
    return passes, round(requests), dollars * passes


class _RequestCollector:
    """``kops_gitsync_store_requests_total{store,kind}``, read from the daemon's state at
    scrape time: the stores count their own requests, so nothing has to be kept in step."""

    def __init__(self, stores: Callable[[], Mapping[str, StoreState]]) -> None:
        self._stores = stores

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            f"{PREFIX}_store_requests", "Requests sent to the store, by kind",
            labels=["store", "kind"])
        for name, state in sorted(self._stores().items()):
            for kind, count in sorted(state.store_requests.items()):
                family.add_metric([name, kind], count)
        yield family


class Metrics:
    def __init__(self, stores: Callable[[], Mapping[str, StoreState]] = dict) -> None:
        self._stores = stores
        self.enabled = False
        self._holders: dict[str, str] = {}
        self._registry: Any = None

    def serve(self) -> None:
        """Build the registry (and turn the metrics on); :meth:`exposition` renders it.

        MissingDependency without prometheus-client: the caller serves the probes anyway.
        """
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge
        except ModuleNotFoundError as exc:
            raise MissingDependency(
                "/metrics needs the Python package 'prometheus-client': "
                "pip install 'kops-gitsync[daemon]'"
            ) from exc
        registry = CollectorRegistry(auto_describe=True)
        self._last_pull = Gauge(
            f"{PREFIX}_last_pull_success_timestamp_seconds",
            "Unix time of the last successful pull", ["store"], registry=registry)
        self._last_push = Gauge(
            f"{PREFIX}_last_push_success_timestamp_seconds",
            "Unix time of the last successful push", ["store"], registry=registry)
        self._drift = Gauge(
            f"{PREFIX}_drift_objects",
            "Objects that differ between the store and its approved branch",
            ["store"], registry=registry)
        self._errors = Counter(
            f"{PREFIX}_errors", "Failed operations by kind of error",
            ["store", "action", "kind"], registry=registry)
        self._operations = Counter(
            f"{PREFIX}_operations", "Finished operations", ["store", "action", "result"],
            registry=registry)
        self._lease_held = Gauge(
            f"{PREFIX}_lease_held", "1 if this daemon holds the store's lease",
            ["store"], registry=registry)
        self._lease_holder = Gauge(
            f"{PREFIX}_lease_holder_info", "Who holds the store's lease (value is always 1)",
            ["store", "holder"], registry=registry)
        registry.register(_RequestCollector(self._stores))
        self._register_replicas(registry)
        self._registry = registry
        self.enabled = True

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (empty when metrics are off)."""
        if self._registry is None:
            return b""
        from prometheus_client import generate_latest

        data: bytes = generate_latest(self._registry)
        return data

    def operation(self, store: str, action: str, result: str) -> None:
        if self.enabled:
            self._operations.labels(store, action, result).inc()

    def pulled(self, store: str, when: float) -> None:
        if self.enabled:
            self._last_pull.labels(store).set(when)

    def pushed(self, store: str, when: float) -> None:
        if self.enabled:
            self._last_push.labels(store).set(when)

    def drift(self, store: str, objects: int) -> None:
        if self.enabled:
            self._drift.labels(store).set(objects)

    def error(self, store: str, action: str, kind: str) -> None:
        if self.enabled:
            self._errors.labels(store, action, kind).inc()

    def lease(self, store: str, held: bool, holder: str) -> None:
        if not self.enabled:
            return
        self._lease_held.labels(store).set(1 if held else 0)
        previous = self._holders.get(store)
        if previous == holder:
            return
        if previous is not None:
            self._lease_holder.remove(store, previous)
        self._lease_holder.labels(store, holder).set(1)
        self._holders[store] = holder

    # --- replicas on Kubernetes (daemon/replicas.py) ------------------------------------

    def _register_replicas(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        self._members = Gauge(
            f"{PREFIX}_members", "Live daemon replicas this replica sees (0 without "
            "membership, or while its own membership Lease is not current)", registry=registry)
        self._owned = Gauge(
            f"{PREFIX}_stores_owned", "Stores the assignment gives this replica",
            registry=registry)
        self._renew_failures = Counter(
            f"{PREFIX}_membership_renew_failures", "Failed renewals of this replica's "
            "membership Lease", registry=registry)

    def replicas(self, members: int, owned: int, new_renew_failures: int) -> None:
        if not self.enabled:
            return
        self._members.set(members)
        self._owned.set(owned)
        if new_renew_failures > 0:
            self._renew_failures.inc(new_renew_failures)

