"""The real push, written through ``StoreLock.fenced``: the lock is taken away between two of
its writes, and nothing more reaches the store; the journal keeps the rest, and the next
push names the new holder. This is the wiring push.py is meant to adopt (one wrapper around
the store once the lock is held); until then it shows the API does what push needs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kops_gitsync.errors import LockLost
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.push import push
from tests.core.conftest import Run, git
from tests.doubles.lock_thief import TakenAfter

CLUSTER = "minimal-aws.example.com"


def six_changes(repo: Path) -> None:
    """An approved commit whose push writes six objects, one after the other."""
    state = repo / "state" / CLUSTER
    for name in ("config", "instancegroup/nodes", "instancegroup/master-us-test-1a"):
        path = state / name
        path.write_text(path.read_text() + "# reviewed\n")
    nodes = (state / "instancegroup" / "nodes").read_text()
    for i in range(3):
        (state / "instancegroup" / f"extra-{i}").write_text(
            nodes.replace("name: nodes", f"name: extra-{i}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "six objects")


@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_a_fenced_push_writes_nothing_after_its_lock_is_taken(
    pulled: tuple[Path, Path], cli: Callable[..., Run], how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One write at a time, so "after the theft" is exact; with parallel writes those already
    # checked and in flight may still land (tests/core/test_push_parallel.py).
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", "1")
    repo, store = pulled
    six_changes(repo)
    [ctx] = open_contexts(repo, None, None, dict(os.environ))
    try:
        lock = StoreLock(ctx.store, "push main")
        lock.acquire()
        thief = TakenAfter(ctx.store, 2, how)
        with pytest.raises(LockLost):
            push(replace(ctx, store=lock.fenced(thief)), apply=True, lock=lock)
        assert len(thief.before) == 2 and thief.after == []
        assert ctx.journal_path.exists()
    finally:
        ctx.close()
    assert not (store / CLUSTER / "instancegroup" / "extra-2").exists()
    again = cli("push", "--yes", cwd=repo)
    if how == "replaced":  # the resume meets the new holder, and says who it is
        assert again.code == 1 and "push from the rival" in again.err and "retry" in again.err
    else:  # nobody took it: the resume finishes the job
        assert again.code == 0, again.err
        assert (store / CLUSTER / "instancegroup" / "extra-2").exists()
