"""Membership Leases (kops_gitsync/daemon/membership.py) against a real kube-apiserver.

Each test works in a namespace of its own (the server has no controller-manager, so
namespaces are never deleted, only made fresh). Skipped with a one-line reason when
tests/servers/kube_apiserver_build.sh has not been run.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.daemon.membership import LABEL_KEY, LABEL_VALUE, Membership, micro_time
from tests.servers.k8s import write_kubeconfig
from tests.servers.kube_apiserver import RealKubeApiServer

DURATION = 3.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def namespace(real_kube_api: RealKubeApiServer) -> str:
    name = f"members-{uuid.uuid4().hex[:10]}"
    status, answer = real_kube_api.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert status == 201, answer
    return name


@pytest.fixture
def coordination(real_kube_api: RealKubeApiServer, tmp_path: Path) -> Iterator[Any]:
    from kubernetes import client, config

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", real_kube_api.url,
                                  ca_file=real_kube_api.ca_file)
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    yield client.CoordinationV1Api(api_client)
    api_client.close()


@pytest.fixture
def member(coordination: Any, namespace: str) -> Iterator[Callable[..., Membership]]:
    made: list[Membership] = []

    def make(name: str, **kw: Any) -> Membership:
        kw.setdefault("duration", DURATION)
        made.append(Membership(coordination, namespace, name, **kw))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def lease_names(coordination: Any, namespace: str) -> list[str]:
    found = coordination.list_namespaced_lease(namespace)
    return sorted(lease.metadata.name for lease in found.items)


def test_two_members_see_each_other_and_label_their_leases(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    a, b = member("kops-gitsync-a").start(), member("kops-gitsync-b").start()
    a.observe()
    assert a.members() == b.members() == ["kops-gitsync-a", "kops-gitsync-b"]
    lease = coordination.read_namespaced_lease("kops-gitsync-a", namespace)
    assert lease.metadata.labels == {LABEL_KEY: LABEL_VALUE}
    assert lease.spec.holder_identity == a.identity
    assert lease.spec.lease_duration_seconds == DURATION


def test_a_member_that_stops_renewing_disappears_after_the_lease_duration(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    a, b = member("kops-gitsync-a").start(), member("kops-gitsync-b").start()
    a.observe()
    b.stop(release=False)  # as if SIGKILLed: its Lease stays, unrenewed
    started = time.monotonic()
    assert "kops-gitsync-b" in lease_names(coordination, namespace)
    while "kops-gitsync-b" in a.members():
        assert time.monotonic() - started < DURATION + 2 * a.renew_interval + 2
        time.sleep(0.1)
    gone_after = time.monotonic() - started
    # b's last renewal was at most one interval before it stopped: never dropped sooner
    assert gone_after >= DURATION - a.renew_interval - 1.0
    assert a.members() == ["kops-gitsync-a"]


def test_stop_deletes_the_lease_and_the_others_drop_the_member_at_once(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    a = member("kops-gitsync-a", duration=30.0).start()
    b = member("kops-gitsync-b", duration=30.0).start()
    a.observe()
    assert a.members() == ["kops-gitsync-a", "kops-gitsync-b"]
    started = time.monotonic()
    b.stop()  # cancels a 10 s wait at once
    assert time.monotonic() - started < 2.0
    assert lease_names(coordination, namespace) == ["kops-gitsync-a"]
    a.observe()
    assert a.members() == ["kops-gitsync-a"]
    assert not b.valid() and b.members() == []


def test_liveness_is_a_seen_change_by_the_local_clock_never_the_others_renew_time(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    """A Lease whose renewTime is years old but which keeps changing is live; one that says
    it was renewed just now but has not changed for a duration is not."""
    from kubernetes import client

    clock = FakeClock()
    a = member("kops-gitsync-a", clock=clock)
    a.renew()

    def foreign(name: str, renewed: datetime.datetime, version: str | None = None) -> None:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=name, labels={LABEL_KEY: LABEL_VALUE},
                                         resource_version=version),
            spec=client.V1LeaseSpec(holder_identity=name, lease_duration_seconds=3,
                                    renew_time=micro_time(renewed)))
        if version is None:
            coordination.create_namespaced_lease(namespace, body)
        else:
            coordination.replace_namespaced_lease(name, namespace, body)

    long_ago = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)
    foreign("old-clock", long_ago)
    foreign("frozen", datetime.datetime.now(datetime.UTC))
    a.observe()
    assert a.members() == ["frozen", "kops-gitsync-a", "old-clock"]  # first sight counts
    for step in range(1, 4):
        clock.now += 2.0  # past the 3 s duration twice over
        a.renew()
        version = coordination.read_namespaced_lease("old-clock", namespace).metadata
        renewed = long_ago + datetime.timedelta(seconds=step)  # its clock is 25 years behind
        foreign("old-clock", renewed, version.resource_version)
        coordination.replace_namespaced_lease(  # a write that changes nothing: same version
            "frozen", namespace, coordination.read_namespaced_lease("frozen", namespace))
        a.observe()
    assert a.members() == ["kops-gitsync-a", "old-clock"]


def test_a_renewal_that_loses_the_compare_and_swap_is_counted_and_taken_back(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    a = member("kops-gitsync-a")
    assert a.renew()
    lease = coordination.read_namespaced_lease("kops-gitsync-a", namespace)
    lease.spec.holder_identity = "a-namesake"
    coordination.replace_namespaced_lease("kops-gitsync-a", namespace, lease)  # behind a's back
    assert not a.renew()
    assert (a.counters.conflicts, a.counters.renew_failures) == (1, 1)
    assert a.renew()
    lease = coordination.read_namespaced_lease("kops-gitsync-a", namespace)
    assert lease.spec.holder_identity == a.identity
    # deleted under it: the replace creates it again (Leases allow create-on-update)
    coordination.delete_namespaced_lease("kops-gitsync-a", namespace)
    assert a.renew()
    lease = coordination.read_namespaced_lease("kops-gitsync-a", namespace)
    assert lease.spec.holder_identity == a.identity


def test_an_unreachable_api_server_makes_the_member_invalid_without_raising(
    tmp_path: Path,
) -> None:
    from kubernetes import client, config

    from tests.servers.kube_apiserver import free_port

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}")
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        lonely = Membership(client.CoordinationV1Api(api_client), "default", "kops-gitsync-x",
                            duration=DURATION).start()
        assert not lonely.valid()
        assert lonely.members() == []
        assert lonely.counters.renew_failures == 1 and lonely.counters.list_failures == 1
        lonely.stop()  # nothing to release, nothing raised
    finally:
        api_client.close()


def test_a_renewal_at_a_whole_second_is_accepted(
    member: Callable[..., Membership], coordination: Any, namespace: str,
) -> None:
    """The API server parses renewTime as MicroTime (six decimals); the client's isoformat()
    leaves them out when the microseconds are 0, once in a million renewals (400)."""
    whole = datetime.datetime(2026, 12, 7, 11, 0, 0, tzinfo=datetime.UTC)
    a = member("kops-gitsync-a", wall=lambda: whole)
    assert a.renew(), a.counters
    lease = coordination.read_namespaced_lease("kops-gitsync-a", namespace)
    assert abs(lease.spec.renew_time - whole) < datetime.timedelta(milliseconds=1)


def test_a_service_account_without_lease_rights_gets_one_line_that_says_what_to_grant(
    real_kube_api: RealKubeApiServer, namespace: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Role missing from the install: the API server answers 403 with a JSON body and
    headers; the log must be one line an operator can act on, not the client's dump."""
    from kubernetes import client, config

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", real_kube_api.url,
                                  token="other-token", ca_file=real_kube_api.ca_file)
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        with caplog.at_level("WARNING", logger="kops_gitsync.daemon.membership"):
            denied = Membership(client.CoordinationV1Api(api_client), namespace, "kgs-denied",
                                duration=DURATION).start()
            assert not denied.valid()
            denied.stop()
    finally:
        api_client.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines, "nothing logged"
    for line in lines:
        assert "\n" not in line and "HTTP response headers" not in line, line
        assert "403" in line and "leases" in line, line
