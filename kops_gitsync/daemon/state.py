"""``<git-dir>/kops-gitsync/daemon-state.json``: what the daemon is doing, for ``status``.

``kops-gitsync status`` reads this file instead of asking the daemon, so it works with no
socket, no port and no permission beyond reading the repository, and it still answers when
the daemon is hung or gone (the file names the pid and when it was last written, so a stale
file is recognisable). The file is replaced atomically (write to a temporary file, fsync,
rename), so a reader never sees half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "daemon-state.json"
FORMAT_VERSION = 1


def state_file(git_dir: Path) -> Path:
    return git_dir / "kops-gitsync" / FILE_NAME


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@dataclass
class StoreState:
    """Per store; times are wall-clock ISO 8601 UTC strings (None: never)."""

    url: str
    auto_push: bool
    lease: str = "none"  # "held", "standby" or "none" (the daemon does not write this store)
    lease_holder: str | None = None
    activity: str = "idle"
    last_pull: str | None = None
    last_pull_summary: str | None = None
    last_push: str | None = None
    last_push_summary: str | None = None
    last_pushed_commit: str | None = None
    merge_deferred: str | None = None  # why the last pull did not merge into the branch
    drift: int | None = None
    failures: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    next_run: str | None = None
    # Requests sent to the store since the daemon opened it, by kind (LIST, GET, PUT...):
    # what the daemon costs (kops #14031: a poller ran up $1000 a month). Also a metric.
    store_requests: dict[str, int] = field(default_factory=dict)
    # Replicas on Kubernetes (docs/kubernetes.md): the member the assignment gives this store
    # to, None when the daemon runs without membership. Only that member tries the store lock.
    owner: str | None = None
    # The approved commit not yet written to the store (None: nothing waits), and why the
    # last push stopped short (a conflict with a store change it did not make, say).
    pending_push: str | None = None
    conflict: str | None = None


@dataclass
class DaemonState:
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    started: str | None = field(default_factory=lambda: iso(time.time()))
    updated: str | None = None
    activity: str = "starting"
    config_source: str | None = None
    config_error: str | None = None  # the last rejected reload, while the old config runs
    stores: dict[str, StoreState] = field(default_factory=dict)
    # Replicas on Kubernetes: this replica's member name and the live members it sees (None
    # and [] without membership); whether the API server has answered since start (None
    # without membership) and whether this replica's own Lease is current.
    member: str | None = None
    members: list[str] = field(default_factory=list)
    api_answered: bool | None = None
    membership_valid: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, **asdict(self)}


def write_state(git_dir: Path, state: DaemonState) -> None:
    """Replace the state file atomically; errors are the caller's to log, never fatal."""
    state.updated = iso(time.time())
    target = state_file(git_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".daemon-state-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state.to_json(), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def read_state(git_dir: Path) -> dict[str, Any] | None:
    """The last state the daemon wrote, plus ``running`` (False when its pid is gone).

    For ``kops-gitsync status``. None when no daemon ever ran in this repository or the file
    cannot be parsed (it is advisory: a broken file must never break ``status``).
    """
    try:
        data = json.loads(state_file(git_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: [[[[... nested too deep
        return None
    if not isinstance(data, dict):
        return None
    data["running"] = _alive(data.get("pid"), data.get("host"))
    return data


def _alive(pid: Any, host: Any) -> bool | None:
    """Whether the daemon's process still exists; None when it ran on another machine."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (the service account)
    return True


def describe(data: dict[str, Any]) -> list[str]:
    """Human lines for ``kops-gitsync status`` from :func:`read_state`'s result."""
    running = data.get("running")
    how = {True: "running", False: "NOT running (stale state)", None: "on another host"}[running]
    lines = [
        f"daemon: pid {data.get('pid')} on {data.get('host')}, {how}, "
        f"{data.get('activity')}, state written {data.get('updated')}"
    ]
    if data.get("config_error"):
        lines.append(f"  rejected config reload (old config kept): {data['config_error']}")
    member = data.get("member")
    if member:
        members = [str(m) for m in data.get("members") or []]
        lines.append(f"  replica {member} of {len(members)} live members: {', '.join(members)}")
        if data.get("membership_valid") is False:
            lines.append("  membership Lease not current: this replica writes no store")
    for name, store in sorted((data.get("stores") or {}).items()):
        lease = store.get("lease")
        lease_text = f"lease {lease}" + (
            f" (held by {store['lease_holder']})" if lease == "standby" else ""
        )
        owner = store.get("owner")
        if member and owner:  # a replica: who should work on it comes first
            whose = "this replica" if owner == member else f"replica {owner}"
            head = f"owned by {whose}, {lease_text}, {store.get('activity')}"
        else:
            head = f"{store.get('activity')}, {lease_text}"
        lines.append(
            f"  {name}: {head}, last pull {store.get('last_pull')}, "
            f"last push {store.get('last_push')}, next {store.get('next_run')}"
        )
        requests = store.get("store_requests") or {}
        if isinstance(requests, dict) and requests:
            shown = " ".join(f"{kind}={count}" for kind, count in sorted(requests.items()))
            lines.append(f"    store requests since start: {shown}")
        if store.get("pending_push"):
            lines.append(f"    pending push {store['pending_push']}")
        if store.get("conflict"):
            lines.append(f"    push stopped: {store['conflict']}")
        if store.get("merge_deferred"):
            lines.append(f"    not merged: {store['merge_deferred']}")
        if store.get("last_error"):
            lines.append(
                f"    failing ({store.get('failures')}x), last at {store.get('last_error_at')}: "
                f"{store['last_error']}"
            )
    return lines
