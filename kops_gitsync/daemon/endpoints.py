"""The daemon's HTTP endpoints (``--metrics-port``): probes, metrics and a read-only status.

Routes, all GET/HEAD (anything else is 405, an unknown path 404):

* ``/healthz``: 200 while the main loop ticks; 503 once it has not ticked for 3 ticks
  (:class:`Heartbeat`). A liveness probe: a loop stuck in a store or git call that never
  returns is what a restart cures.
* ``/readyz``: 200 once the configuration is loaded and, on a replica with Kubernetes
  membership, once the API server has answered. Never tied to owning a store: a replica
  that owns nothing is a healthy spare, and a spare shown as not Ready reads as broken HA
  (Flux's standby replicas, fluxcd/flux2#5880).
* ``/metrics``: the Prometheus exposition of the registry :class:`Metrics` builds; 503 with
  the install hint when prometheus-client is missing (the probes do not need it).
* ``/status``: :meth:`DaemonState.to_json`, the same document as the state file.
* ``/``: that document as an HTML table (:mod:`kops_gitsync.daemon.statuspage`).

Why one stdlib server rather than prometheus-client's: the probes must answer without the
optional package, and one port is one Service, one NetworkPolicy rule and one probe target.
The handler threads only *read* the daemon's state; the loop is never asked anything, so a
stuck loop cannot hang a probe (that is the point of /healthz).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.metrics import Metrics
from kops_gitsync.daemon.state import DaemonState
from kops_gitsync.daemon.statuspage import render
from kops_gitsync.errors import FatalError, MissingDependency

STALL_TICKS = 3
# 'unsafe-inline' only for styles: the page has no script at all, and nothing external.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


class Heartbeat:
    """When the main loop last showed it was alive, by the monotonic clock.

    ``progress`` (optional) is a counter that grows while the loop works, such as the
    requests sent to the stores: a first pull of a big store is one long turn, and a probe
    that restarted the pod in the middle would restart the same pull forever. A counter
    that moved since the last look counts as a beat; one that cannot be read does not.
    """

    def __init__(self, tick: float, clock: Callable[[], float] = time.monotonic,
                 progress: Callable[[], int] | None = None) -> None:
        self.tick = tick
        self._clock = clock
        self._last = clock()
        self._progress = progress
        self._seen = self._read_progress()

    def _read_progress(self) -> int | None:
        if self._progress is None:
            return None
        try:
            return self._progress()
        except Exception:  # read from another thread while the loop changes it: no beat
            return None

    def beat(self) -> None:
        self._last = self._clock()  # one float store: atomic, no lock needed

    def stalled(self) -> float | None:
        """Seconds since the last beat once that exceeds :data:`STALL_TICKS` ticks, else None."""
        now = self._read_progress()
        if now is not None and now != self._seen:
            self._seen = now
            self.beat()
        silent = self._clock() - self._last
        return silent if silent > STALL_TICKS * self.tick else None


def ready(state: DaemonState) -> str | None:
    """Why the daemon is not Ready (None: it is)."""
    if state.activity != "running":
        return f"not ready: {state.activity}"
    if state.api_answered is False:  # None: no membership, nothing to wait for
        return "not ready: the Kubernetes API server has not answered yet"
    return None


def snapshot(state: Callable[[], DaemonState]) -> dict[str, Any]:
    """The state as JSON data, read while the loop may be changing it.

    The loop replaces values rather than mutating them in place, but a dict that grows
    during the copy raises RuntimeError; a retry reads a consistent enough picture.
    """
    for _attempt in range(5):
        try:
            return state().to_json()
        except RuntimeError:
            time.sleep(0.01)
    return state().to_json()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow client never delays the daemon's exit
    endpoints: Endpoints


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "kops-gitsync"
    sys_version = ""
    timeout = 10  # seconds a client may take to send its request: no idle connection piles

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers 501 when missing; every other
        # method is a client error here, so it gets 405 and the Allow header.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"method not allowed\n", True,
                   {"Allow": "GET, HEAD"})

    def _answer(self, body: bool) -> None:
        path = urlsplit(self.path).path
        route = self.server.endpoints.route(path)
        if route is None:
            self._send(404, "text/plain; charset=utf-8", b"not found\n", body)
            return
        status, content_type, payload = route()
        self._send(status, content_type, payload, body)

    def _send(self, status: int, content_type: str, payload: bytes, body: bool,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(payload)),
                   "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer", "Content-Security-Policy": CSP,
                   **(extra or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes come every few seconds: requests are debug noise, not journal lines.
        logs.event(logging.DEBUG, format % args, action="http", result="served")


Route = Callable[[], tuple[int, str, bytes]]


class Endpoints:
    """The server and its routes; :meth:`start` binds and serves in a daemon thread."""

    def __init__(self, server: _Server, state: Callable[[], DaemonState],
                 heartbeat: Heartbeat, metrics: Metrics, metrics_off: str | None) -> None:
        self._server = server
        self._state = state
        self._heartbeat = heartbeat
        self._metrics = metrics
        self._metrics_off = metrics_off
        self.port = int(server.server_address[1])
        self._routes: dict[str, Route] = {"/healthz": self._healthz, "/readyz": self._readyz,
                                          "/metrics": self._expose, "/status": self._status,
                                          "/": self._page}

    @classmethod
    def start(cls, address: str, port: int, state: Callable[[], DaemonState],
              heartbeat: Heartbeat, metrics: Metrics) -> Endpoints:
        """Bind ``address:port`` (port 0: a free one) and serve; FatalError if it cannot."""
        metrics_off = None
        try:
            metrics.serve()
        except MissingDependency as exc:
            metrics_off = str(exc)
            logs.event(logging.WARNING, metrics_off, action="metrics", result="off")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        try:
            server: _Server = server_class((address, port), _Handler)
        except socket.gaierror as exc:
            raise FatalError(f"--listen-address {address!r}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise FatalError(f"--metrics-port: cannot listen on {address}:{port}: "
                             f"{exc.strerror or exc}") from None
        endpoints = cls(server, state, heartbeat, metrics, metrics_off)
        server.endpoints = endpoints
        heartbeat.beat()  # the loop's first tick is counted from here
        threading.Thread(target=server.serve_forever, name="http-endpoints",
                         daemon=True).start()
        shown = f"[{address}]" if family == socket.AF_INET6 else address
        logs.event(action="metrics", result="listening", address=f"{shown}:{endpoints.port}")
        return endpoints

    def route(self, path: str) -> Route | None:
        return self._routes.get(path)

    def _healthz(self) -> tuple[int, str, bytes]:
        silent = self._heartbeat.stalled()
        if silent is None:
            return 200, "text/plain; charset=utf-8", b"ok\n"
        text = (f"stalled: no loop tick for {silent:.1f} s "
                f"({STALL_TICKS} ticks of {self._heartbeat.tick:g} s)\n")
        return 503, "text/plain; charset=utf-8", text.encode()

    def _readyz(self) -> tuple[int, str, bytes]:
        why = ready(self._state())
        if why is None:
            return 200, "text/plain; charset=utf-8", b"ready\n"
        return 503, "text/plain; charset=utf-8", f"{why}\n".encode()

    def _expose(self) -> tuple[int, str, bytes]:
        if self._metrics_off is not None:
            return 503, "text/plain; charset=utf-8", f"{self._metrics_off}\n".encode()
        return 200, EXPOSITION, self._metrics.exposition()

    def _status(self) -> tuple[int, str, bytes]:
        text = json.dumps(snapshot(self._state), indent=2, sort_keys=True) + "\n"
        return 200, "application/json", text.encode()

    def _page(self) -> tuple[int, str, bytes]:
        return 200, "text/html; charset=utf-8", render(snapshot(self._state)).encode()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
