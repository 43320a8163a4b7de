"""A lock object nobody can read, through the CLI a user has: status and push say it is held
(never delete it), unlock shows what is wrong with it, unlock --yes removes it."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.core.conftest import Run, git

NODES = "minimal-aws.example.com/instancegroup/nodes"
VALID = {"id": "0" * 32, "owner": "ops", "host": "elsewhere", "pid": 4242,
         "operation": "push main", "created": 1.0e9, "expires": 4.0e9}
BROKEN = [
    (b"", "empty"),
    (b"{not json", "not JSON"),
    (b'["a", "list"]', "JSON list"),
    (b"\xff\xfe\xfd", "not UTF-8"),
    (json.dumps({**VALID, "lease": "exclusive"}).encode(), "does not know"),
    (json.dumps({**VALID, "expires": "soon"}).encode(), "'expires' is \"soon\""),
    (json.dumps({**VALID, "expires": float("nan")}).encode(), "'expires' is NaN"),
    (json.dumps({**VALID, "expires": None}).encode(), "'expires' is null"),
]


@pytest.mark.parametrize(("data", "problem"), BROKEN, ids=[p for _d, p in BROKEN])
def test_an_unreadable_lock_is_held_shown_and_removable(
    pulled: tuple[Path, Path], cli: Callable[..., Run], data: bytes, problem: str
) -> None:
    repo, store = pulled
    (store / LOCK_KEY).write_bytes(data)
    path = repo / "state" / NODES
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: maxSize 5")

    status = cli("status", cwd=repo)
    assert "locked" in status.out

    pushed = cli("push", "--yes", cwd=repo)
    assert pushed.code == 1
    assert LOCK_KEY in pushed.err and problem in pushed.err and "unlock --yes" in pushed.err
    assert (store / LOCK_KEY).read_bytes() == data  # held, not taken over
    assert b"maxSize: 5" not in (store / NODES).read_bytes()

    shown = cli("unlock", cwd=repo)
    assert shown.code == 0 and problem in shown.out and "--yes" in shown.out
    assert (store / LOCK_KEY).exists()

    removed = cli("unlock", "--yes", cwd=repo)
    assert removed.code == 0 and "lock removed" in removed.out
    assert not (store / LOCK_KEY).exists()
    assert cli("push", "--yes", cwd=repo).code == 0
    assert b"maxSize: 5" in (store / NODES).read_bytes()


def test_unlock_warns_while_a_daemon_holds_the_lease(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.vfs.file import FileStore

    repo, store = pulled
    doc = {**VALID, "operation": "daemon"}  # on another host: cannot be shown to be gone
    (store / LOCK_KEY).write_text(json.dumps(doc))
    shown = cli("unlock", cwd=repo)
    assert "daemon" in shown.out and "stop that daemon" in shown.out
    assert StoreLock.inspect(FileStore(store)).info is not None



@pytest.mark.parametrize("field,value", [
    ("expires", 1e20), ("created", 1e20), ("expires", -5.0),
    ("pid", 100000000000000000000), ("pid", -1), ("pid", 0),
])
def test_out_of_range_lock_numbers_are_an_unreadable_lock_not_a_traceback(
    pulled: tuple[Path, Path], cli: Callable[..., Run], field: str, value: float
) -> None:
    repo, store = pulled
    lock = {**VALID, "host": socket.gethostname(), field: value}
    (store / LOCK_KEY).write_text(json.dumps(lock))
    for args in (("status",), ("unlock",), ("push", "--yes")):
        result = cli(*args, cwd=repo)
        assert "Traceback" not in result.err and result.code in (0, 1), (args, result.err)
    status = cli("status", cwd=repo)
    assert status.code == 1 and "unreadable" in status.out, status.out
    assert cli("unlock", "--yes", cwd=repo).code == 0
    assert not (store / LOCK_KEY).exists()
