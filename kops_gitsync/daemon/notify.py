"""systemd's readiness protocol (``sd_notify``), written with the socket module.

The protocol is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named in
``$NOTIFY_SOCKET`` (a leading ``@`` means the Linux abstract namespace). That is a dozen
lines of code, so no library is added for it: the ``systemd`` Python bindings need libsystemd
headers and a compiler at install time, and the small pure-Python packages on PyPI add a
dependency (and a maintainer to trust) for less code than this module.

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, so the daemon runs the same
in a terminal, a container or a test.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    """Sends READY / STATUS / WATCHDOG / STOPPING to systemd, when systemd is listening."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self.watchdog_interval = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, **fields: str) -> bool:
        """One datagram; True if it was sent. Never raises: supervision must not kill work."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status, MAINPID=str(os.getpid()))

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def reloading(self) -> bool:
        return self.send(RELOADING="1")

    def stopping(self, status: str) -> bool:
        return self.send(STOPPING="1", STATUS=status)


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of ``WatchdogSec=`` (as sd_watchdog_enabled advises), if it is meant for us."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2
