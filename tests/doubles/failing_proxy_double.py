"""A forwarding HTTP proxy that fails the first N requests: a double of an overloaded or
hung server, for the contract's "server errors are retried, then a clear error".

Two ways to fail: answer 503 (with ``Retry-After: <retry_after>`` when given), or, with
``hang`` set, read the request and say nothing for that many seconds before dropping the
connection, as a server behind a dead load balancer does.

No storage server here can be told to fail on demand, so the failures are injected in front
of a real one; everything that is not failed reaches the real server unchanged.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
_BODY_503 = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>injected by failing_proxy_double</Message></Error>"
)


class FailingProxyDouble:
    """``failures``: how many requests get 503 before traffic passes; -1 means all of them."""

    def __init__(
        self, upstream: str, failures: int, *, hang: float = 0.0,
        retry_after: str | None = None, only: Callable[[str, str], bool] | None = None,
        drop_length: bool = False,
    ) -> None:
        """``only(method, path)``: fail just the requests it accepts (the rest pass and do
        not count against ``failures``). ``drop_length``: relay bodies without
        Content-Length (ended by closing the connection), as a server that does not say, or
        lies about, how much it will send."""
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.failures_left = failures
        self.hang = hang
        self.retry_after = retry_after
        self.only = only
        self.drop_length = drop_length
        self.requests_seen = 0
        self.request_times: list[float] = []  # time.monotonic() of every request
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FailingProxyDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hung requests at once
        self._server.shutdown()
        self._server.server_close()

    def _should_fail(self, method: str, path: str) -> bool:
        if self.only is not None and not self.only(method, path):
            with self._lock:
                self.requests_seen += 1
                self.request_times.append(time.monotonic())
            return False
        with self._lock:
            self.requests_seen += 1
            self.request_times.append(time.monotonic())
            if self.failures_left == 0:
                return False
            if self.failures_left > 0:
                self.failures_left -= 1
            return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy._should_fail(self.command, self.path):
                    if proxy.hang:
                        proxy._stopping.wait(proxy.hang)
                        self.close_connection = True
                        return
                    self.send_response(503)
                    if proxy.retry_after is not None:
                        self.send_header("Retry-After", proxy.retry_after)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_BODY_503)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(_BODY_503)
                    return
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in _HOP_BY_HOP}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status, answer.reason)
                head = self.command == "HEAD"  # keeps the object's own Content-Length
                undeclared = proxy.drop_length and not head and answer.status == 200
                for name, value in answer.getheaders():
                    lower = name.lower()
                    if lower not in _HOP_BY_HOP and (head or lower != "content-length"):
                        self.send_header(name, value)
                if undeclared:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                elif not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _relay

        return Handler
