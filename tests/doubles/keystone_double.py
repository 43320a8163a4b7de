"""An HTTP double of OpenStack Keystone v3, just enough for password authentication.

Keystone itself needs a database, fernet keys and a WSGI server; what swift:// needs from it
is small: version discovery, ``POST /v3/auth/tokens`` with a password, and a service catalog
that names the object-store endpoint per region. This double checks the user name (or id),
password and project, and answers 401 otherwise, so the tests exercise openstacksdk's real
password flow (discovery, token, catalog lookup, region choice) against the real Swift.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class KeystoneDouble:
    """``endpoints``: region -> object-store URL put in the catalog."""

    def __init__(self, user: str, password: str, project: str, endpoints: dict[str, str]) -> None:
        self.user, self.password, self.project = user, password, project
        self.endpoints = endpoints
        self.tokens_issued = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v3"

    def __enter__(self) -> KeystoneDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _token_body(self) -> dict[str, Any]:
        domain = {"id": "default", "name": "Default"}
        catalog = [{
            "type": "object-store", "name": "swift", "id": "swift-service",
            "endpoints": [
                {"id": f"ep-{region}", "interface": "public", "region": region,
                 "region_id": region, "url": url}
                for region, url in self.endpoints.items()
            ],
        }]
        return {"token": {
            "methods": ["password"],
            "user": {"id": "user-id", "name": self.user, "domain": domain},
            "project": {"id": "project-id", "name": self.project, "domain": domain},
            "roles": [{"id": "member-id", "name": "member"}],
            "issued_at": "2026-11-24T00:00:00.000000Z",
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "catalog": catalog,
        }}

    def _accepts(self, request: Any) -> bool:
        try:
            user = request["auth"]["identity"]["password"]["user"]
            scope = request["auth"].get("scope", {}).get("project", {})
        except (KeyError, TypeError, AttributeError):
            return False
        return (
            user.get("name", user.get("id")) in (self.user, "user-id")
            and user.get("password") == self.password
            and scope.get("name", scope.get("id")) in (self.project, "project-id", None)
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        keystone = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, code: int, doc: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                for name, value in {**headers, "Content-Type": "application/json",
                                    "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v3":
                    self._reply(404, {"error": {"code": 404, "title": "Not Found"}}, {})
                    return
                self._reply(200, {"version": {
                    "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                    "links": [{"rel": "self", "href": keystone.auth_url + "/"}],
                    "media-types": [{"base": "application/json",
                                     "type": "application/vnd.openstack.identity-v3+json"}],
                }}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    request = None
                if self.path.rstrip("/") != "/v3/auth/tokens" or not keystone._accepts(request):
                    self._reply(401, {"error": {"code": 401, "title": "Unauthorized",
                                                "message": "The request you have made requires "
                                                           "authentication."}}, {})
                    return
                keystone.tokens_issued += 1
                token = f"gAAAA{uuid.uuid4().hex}"
                self._reply(201, keystone._token_body(), {"X-Subject-Token": token})

        return Handler
