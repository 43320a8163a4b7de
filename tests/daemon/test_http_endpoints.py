"""The daemon's HTTP endpoints (``--metrics-port``): probes, /status, the HTML page, /metrics.

Against a real daemon subprocess on ``file://`` stores where the daemon's behaviour is the
point (a stuck loop, a refused push, a hostile store path); in-process against the real
server where only the server is (readiness rules, a missing prometheus-client, a port in use).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.daemon.endpoints import Endpoints, Heartbeat
from kops_gitsync.daemon.metrics import Metrics
from kops_gitsync.daemon.state import DaemonState, StoreState
from kops_gitsync.daemon.statuspage import render
from kops_gitsync.errors import FatalError
from tests.daemon.conftest import CLUSTER, DaemonProc, copy_fixture_store, git, make_repo, wait_for

Start = Callable[..., DaemonProc]
TICK = "2"  # a stall is 6 s of silence: more than any turn takes on a loaded CI machine
HOSTILE = "<img src=x onerror=alert(1)>\"'&"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode()


def request(address: str, path: str, method: str = "GET") -> Reply:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, headers, response.read())
    finally:
        conn.close()


def listening(daemon: DaemonProc) -> str:
    address: str = daemon.wait_event("the HTTP endpoints", action="metrics")["address"]
    return address


def store_config(store: Path, name: str = "dev", **extra: object) -> dict[str, object]:
    return {"name": name, "state": f"file://{store}", "interval": 3600, **extra}


# --- a running daemon ----------------------------------------------------------------------


@pytest.mark.slow
def test_routes_of_a_running_daemon(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, auto_push=True)])
    daemon = start_daemon(repo, "--metrics-port", "0", "--tick", TICK)
    address = listening(daemon)
    assert address.startswith("127.0.0.1:")  # the default --listen-address
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")

    health = request(address, "/healthz")
    assert (health.status, health.text) == (200, "ok\n")
    assert request(address, "/readyz").status == 200

    def status() -> dict[str, object] | None:
        reply = request(address, "/status")
        assert reply.headers["content-type"].startswith("application/json")
        data: dict[str, object] = json.loads(reply.body)
        stores = data["stores"]
        assert isinstance(stores, dict)
        return data if stores["dev"]["last_pull"] else None

    data = wait_for(status, "a pull in /status")
    assert set(data) == {"format"} | {f.name for f in dataclasses.fields(DaemonState)}
    dev = data["stores"]["dev"]  # type: ignore[index]
    assert set(dev) == {f.name for f in dataclasses.fields(StoreState)}
    assert dev["url"] == f"file://{store}" and dev["lease"] == "held"
    assert dev["pending_push"] is None and dev["conflict"] is None
    assert data["pid"] == daemon.pid

    metrics = request(address, "/metrics")
    assert metrics.status == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'kops_gitsync_lease_held{store="dev"} 1.0' in metrics.text

    page = request(address, "/")
    assert page.status == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text and "<td>dev</td>" in page.text

    head = request(address, "/healthz", "HEAD")
    assert (head.status, head.body) == (200, b"")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"):
        refused = request(address, "/", method)
        assert refused.status == 405, method
        assert refused.headers["allow"] == "GET, HEAD"
    assert request(address, "/nope").status == 404
    assert request(address, "/healthz/../status").status == 404
    assert request(address, "/status?pretty=1").status == 200  # a query string is ignored


@pytest.mark.slow
def test_healthz_fails_while_the_loop_is_stuck_and_recovers(
    tmp_path: Path, start_daemon: Start
) -> None:
    """A git remote that stops answering (an SSH remote without a timeout does exactly this)
    holds the loop in ``git fetch``: /healthz turns 503 after 3 ticks, /readyz stays 200,
    and once the remote answers again the loop ticks and /healthz is 200 again."""
    store = copy_fixture_store(tmp_path / "store")
    seed = make_repo(tmp_path / "seed", [store_config(store, auto_push=True)])  # or no fetch
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    git(tmp_path, "clone", "-q", str(origin), "daemon")
    repo = tmp_path / "daemon"
    gate = tmp_path / "remote-hangs"
    upload_pack = tmp_path / "upload-pack"
    upload_pack.write_text(f'#!/bin/sh\nwhile [ -e "{gate}" ]; do sleep 0.1; done\n'
                           'exec git-upload-pack "$@"\n')
    upload_pack.chmod(upload_pack.stat().st_mode | stat.S_IXUSR)
    git(repo, "config", "remote.origin.uploadpack", str(upload_pack))

    daemon = start_daemon(repo, "--metrics-port", "0", "--tick", TICK, "--fetch-interval", "1")
    address = listening(daemon)
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")
    assert request(address, "/healthz").status == 200

    gate.touch()
    stuck = wait_for(lambda: (r := request(address, "/healthz")).status == 503 and r,
                     "/healthz to report the stuck loop", timeout=40)
    assert "no loop tick for" in stuck.text
    assert request(address, "/readyz").status == 200  # stuck is not unready: restart, not drain
    assert request(address, "/status").status == 200  # the page still answers

    gate.unlink()
    wait_for(lambda: request(address, "/healthz").status == 200, "/healthz to recover",
             timeout=20)


@pytest.mark.slow
def test_hostile_text_from_the_store_is_escaped(tmp_path: Path, start_daemon: Start) -> None:
    """Store names are schema-checked, but a store's path and the errors that quote it (or
    quote object keys read from the store) reach the page verbatim."""
    missing = tmp_path / HOSTILE
    repo = make_repo(tmp_path / "repo", [store_config(missing, name="bad")])
    daemon = start_daemon(repo, "--metrics-port", "0", "--tick", TICK)
    address = listening(daemon)
    daemon.wait_event("the failing pull", store="bad", action="pull", result="error")

    def page() -> str | None:
        text = request(address, "/").text
        return text if "does not exist" in text else None

    text = wait_for(page, "the error on the page")
    assert "<img" not in text and "onerror=alert(1)>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;" in text
    data = json.loads(request(address, "/status").body)
    assert HOSTILE in data["stores"]["bad"]["last_error"]  # JSON carries it as it is


@pytest.mark.slow
def test_a_refused_push_shows_as_pending_and_conflicting_until_resolved(
    tmp_path: Path, start_daemon: Start
) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, auto_push=True)])
    daemon = start_daemon(repo, "--metrics-port", "0", "--tick", TICK)
    address = listening(daemon)
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")
    resolved_tip = git(repo, "rev-parse", "HEAD").strip()
    config = Path("state") / CLUSTER / "config"

    # Somebody works in the clone (an untracked file), so the store's change is recorded but
    # not merged; then an approved commit changes the same object: the push must refuse.
    (repo / "notes.txt").write_text("work in progress\n")
    mark = daemon.mark()
    (store / CLUSTER / "config").write_text(
        (store / CLUSTER / "config").read_text() + "# changed by kops\n")
    daemon.wait_event("the deferred pull", after=mark, store="dev", action="pull",
                      result="changed")
    (repo / config).write_text((repo / config).read_text() + "# approved change\n")
    git(repo, "commit", "-q", "-m", "approved change", "--", str(config))
    tip = git(repo, "rev-parse", "HEAD").strip()
    daemon.wait_event("the refused push", after=mark, store="dev", action="push",
                      result="refused")

    def dev() -> dict[str, object]:
        stores = json.loads(request(address, "/status").body)["stores"]
        assert isinstance(stores, dict)
        entry: dict[str, object] = stores["dev"]
        return entry

    state = wait_for(lambda: (d := dev())["conflict"] and d, "the conflict in /status")
    assert state["pending_push"] == tip
    assert "the store changed since" in str(state["conflict"])
    assert tip[:12] in request(address, "/").text

    # The approved commit is withdrawn: nothing waits any more, and the conflict is gone.
    mark = daemon.mark()
    git(repo, "reset", "-q", "--hard", resolved_tip)
    daemon.wait_event("the push check after the reset", after=mark, store="dev",
                      action="push")
    wait_for(lambda: (d := dev())["conflict"] is None and d["pending_push"] is None,
             "the conflict cleared in /status")


# --- the server alone ----------------------------------------------------------------------


def serve(state: DaemonState, metrics: Metrics | None = None,
          heartbeat: Heartbeat | None = None) -> Endpoints:
    return Endpoints.start("127.0.0.1", 0, lambda: state, heartbeat or Heartbeat(60.0),
                           metrics or Metrics())


def test_readiness_follows_the_config_and_the_api_server_never_ownership() -> None:
    state = DaemonState()
    endpoints = serve(state)
    address = f"127.0.0.1:{endpoints.port}"
    try:
        assert request(address, "/readyz").status == 503  # stores not installed yet
        state.activity = "running"
        assert request(address, "/readyz").status == 200  # without membership
        state.member, state.api_answered = "replica-0", False
        reply = request(address, "/readyz")
        assert reply.status == 503 and "API server" in reply.text
        state.api_answered = True  # and it owns no store at all: still Ready
        assert request(address, "/readyz").status == 200
        state.activity = "stopped"
        assert request(address, "/readyz").status == 503
    finally:
        endpoints.close()


def test_healthz_counts_ticks() -> None:
    clock = [100.0]
    heartbeat = Heartbeat(2.0, clock=lambda: clock[0])
    assert heartbeat.stalled() is None
    clock[0] += 6.0
    assert heartbeat.stalled() is None  # exactly 3 ticks: still alive
    clock[0] += 0.1
    assert heartbeat.stalled() == pytest.approx(6.1)
    heartbeat.beat()
    assert heartbeat.stalled() is None


def test_a_long_pull_that_keeps_talking_to_the_store_is_not_a_stall() -> None:
    """A first pull of a big store is one long turn of the loop. Killing the pod for it
    would restart the same pull forever: requests still going out count as a beat."""
    clock = [100.0]
    sent = [0]
    heartbeat = Heartbeat(2.0, clock=lambda: clock[0], progress=lambda: sent[0])
    for _step in range(10):  # 30 s of one turn, requests every 3 s
        clock[0] += 3.0
        sent[0] += 40
        assert heartbeat.stalled() is None
    clock[0] += 6.1  # then silence: a hung call
    assert heartbeat.stalled() == pytest.approx(6.1)


def test_a_progress_counter_that_fails_to_read_is_no_beat() -> None:
    clock = [100.0]

    def broken() -> int:
        raise RuntimeError("dictionary changed size during iteration")

    heartbeat = Heartbeat(1.0, clock=lambda: clock[0], progress=broken)
    clock[0] += 3.5
    assert heartbeat.stalled() == pytest.approx(3.5)


def test_without_prometheus_client_the_probes_work_and_metrics_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails as if absent
    state = DaemonState(activity="running")
    endpoints = serve(state)
    address = f"127.0.0.1:{endpoints.port}"
    try:
        assert request(address, "/healthz").status == 200
        assert request(address, "/readyz").status == 200
        reply = request(address, "/metrics")
        assert reply.status == 503
        assert "pip install 'kops-gitsync[daemon]'" in reply.text
    finally:
        endpoints.close()


def test_metrics_are_served_from_the_registry_metrics_builds() -> None:
    metrics = Metrics()
    endpoints = serve(DaemonState(), metrics)
    try:
        metrics.pulled("dev", 1700000000.0)
        text = request(f"127.0.0.1:{endpoints.port}", "/metrics").text
    finally:
        endpoints.close()
    assert 'kops_gitsync_last_pull_success_timestamp_seconds{store="dev"} 1.7e+09' in text


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FatalError, match=f"cannot listen on 127.0.0.1:{port}"):
            Endpoints.start("127.0.0.1", port, DaemonState, Heartbeat(5.0), Metrics())


def test_unknown_listen_address_is_a_clear_error() -> None:
    with pytest.raises(FatalError, match=re.escape("--listen-address 'no such host.invalid'")):
        Endpoints.start("no such host.invalid", 0, DaemonState, Heartbeat(5.0), Metrics())


def test_ipv6_listen_address() -> None:
    if not socket.has_ipv6 or not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6 on this machine")
    endpoints = Endpoints.start("::1", 0, DaemonState, Heartbeat(5.0), Metrics())
    try:
        conn = http.client.HTTPConnection("::1", endpoints.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        endpoints.close()


def test_page_escapes_every_field() -> None:
    """The schema keeps store names tame; the page must not rely on it."""
    state = DaemonState(activity="running", member=HOSTILE, members=[HOSTILE])
    state.stores[HOSTILE] = StoreState(
        url=HOSTILE, auto_push=True, owner=HOSTILE, lease_holder=HOSTILE, lease="standby",
        last_pull=HOSTILE, pending_push=HOSTILE, conflict=HOSTILE, last_error=HOSTILE)
    state.config_error = HOSTILE
    page = render(state.to_json())
    assert "<img" not in page and "\"'&\"" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 9


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_listen_address_flag(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store)])
    daemon = start_daemon(repo, "--metrics-port", "0", "--listen-address", "0.0.0.0")
    address = listening(daemon)
    assert address.startswith("0.0.0.0:")
    assert request(f"127.0.0.1:{address.rsplit(':', 1)[1]}", "/healthz").status == 200


@pytest.mark.parametrize(("args", "message"), [
    (["--metrics-port", "0", "--listen-address", "no such host.invalid"],
     "--listen-address 'no such host.invalid':"),
    (["--tick", "0"], "--tick 0: give a number of seconds from 0.05 to 3600"),
])
def test_bad_endpoint_flags_are_one_line_errors(tmp_path: Path, args: list[str],
                                                message: str) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store)])
    done = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo), *args],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
