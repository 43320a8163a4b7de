"""push with parallel writes: bounded, stopped by a conflict, resumable after a kill at any
point, and with a known, small number of requests per push (real git, file:// and moto)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.context import SyncContext, open_contexts
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.sync.push import push
from kops_gitsync.vfs.base import Store
from tests.core.conftest import Run, git, snapshot
from tests.doubles.forwarding import Forwarding

CLUSTER = "minimal-aws.example.com"
ROOT = Path(__file__).parents[2]


def many_changes(repo: Path, count: int) -> list[str]:
    """An approved commit that writes ``count`` objects (new, valid instance groups)."""
    folder = repo / "state" / CLUSTER / "instancegroup"
    nodes = (folder / "nodes").read_text()
    names = [f"extra-{i:03d}" for i in range(count)]
    for name in names:
        (folder / name).write_text(nodes.replace("name: nodes", f"name: {name}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{count} new instance groups")
    return [f"{CLUSTER}/instancegroup/{name}" for name in names]


class Watched(Forwarding):
    """A real store whose object writes are counted: how many at once at most, in which
    order, and an optional hook that runs at the start of each one."""

    def __init__(self, store: Store, hold: float = 0.05,
                 hook: Callable[[int, str], None] | None = None) -> None:
        super().__init__(store)
        self.hold, self.hook = hold, hook
        self.started: list[str] = []
        self.in_flight = self.max_in_flight = 0
        self._mutex = threading.Lock()

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        if key == LOCK_KEY:
            return self.store.write(key, data, if_match=if_match, if_none_match=if_none_match,
                                    metadata=metadata)
        with self._mutex:
            self.started.append(key)
            index = len(self.started)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hook:
                self.hook(index, key)
            time.sleep(self.hold)  # long enough for the pool to fill up
            return self.store.write(key, data, if_match=if_match, if_none_match=if_none_match,
                                    metadata=metadata)
        finally:
            with self._mutex:
                self.in_flight -= 1


def one_context(repo: Path) -> SyncContext:
    [ctx] = open_contexts(repo, None, None, dict(os.environ))
    return ctx


@pytest.mark.parametrize("workers", ["1", "3"])
def test_writes_run_in_parallel_but_never_more_than_the_bound(
    pulled: tuple[Path, Path], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    repo, store = pulled
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", workers)
    keys = many_changes(repo, 10)
    ctx = one_context(repo)
    try:
        watched = Watched(ctx.store)
        result = push(replace(ctx, store=watched), apply=True)
    finally:
        ctx.close()
    assert sorted(result.written) == keys and sorted(watched.started) == keys
    assert watched.max_in_flight == int(workers)
    assert not ctx.journal_path.exists() and not (store / LOCK_KEY).exists()
    assert "up to date" in cli("pull", cwd=repo).out


def test_a_conflict_mid_batch_stops_launching_writes(
    pulled: tuple[Path, Path], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The third object is created by someone else while the push runs: its write is
    refused, nothing is launched once that answer is in, the writes in flight finish and
    are recorded, and the observed state says exactly what landed."""
    repo, store = pulled
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", "2")
    keys = many_changes(repo, 20)
    rival = keys[2]

    def other_writer(index: int, _key: str) -> None:
        if index == 1:
            (store / rival).write_text("written by someone else\n")

    ctx = one_context(repo)
    try:
        watched = Watched(ctx.store, hook=other_writer)
        with pytest.raises(FatalError) as stopped:
            push(replace(ctx, store=watched), apply=True)
    finally:
        ctx.close()
    assert f"push stopped: {rival} changed in the store" in str(stopped.value)
    # Two in flight at a time: keys[2] is refused about when keys[3] finishes, so at most
    # keys[3] and keys[4] were launched before the answer came back; nothing after them.
    assert watched.started[:3] == keys[:3] and len(watched.started) <= 5
    landed = [k for k in keys if (store / k).exists() and k != rival]
    assert landed == [k for k in watched.started if k != rival]
    assert (store / rival).read_text() == "written by someone else\n"
    assert not ctx.journal_path.exists() and not (store / LOCK_KEY).exists()
    # The observed state records exactly what landed (a pull then meets the rival's object
    # as a conflict with the branch, which is what it is).
    observed = git(repo, "ls-tree", "-r", "--name-only", "refs/kops-gitsync/observed/default",
                   f"state/{CLUSTER}/instancegroup/").split()
    assert [k for k in keys if f"state/{k}" in observed] == landed


KILLER = textwrap.dedent(
    """
    import itertools, os, signal, sys, threading, time
    from kops_gitsync.vfs import file as backend
    mode, index, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    real_write = backend.FileStore.write
    counter = itertools.count(1)
    guard = threading.Lock()
    def write(self, key, data, **kw):
        if key.endswith("kops-gitsync.lock"):
            return real_write(self, key, data, **kw)
        with guard:
            n = next(counter)
            with open(log, "a") as out:
                out.write(key + "\\n")
        if mode == "before" and n == index:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.02)  # let the other writers get going
        version = real_write(self, key, data, **kw)
        if mode == "after" and n == index:
            os.kill(os.getpid(), signal.SIGKILL)
        return version
    backend.FileStore.write = write
    from kops_gitsync.cli.main import main
    sys.exit(main(sys.argv[4:]))
    """
)


def run_logged(repo: Path, script: Path, mode: str, index: int, log: Path,
               *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), mode, str(index), str(log), *args], cwd=repo,
        capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "KOPS_GITSYNC_PUSH_WORKERS": "3"},
    )


COUNT = 5
KILL_POINTS = [("before", 1)] + [("after", i) for i in range(1, COUNT + 1)]


@pytest.mark.parametrize(("mode", "index"), KILL_POINTS)
def test_a_kill_at_any_write_leaves_a_journal_that_writes_exactly_the_rest(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path, mode: str, index: int,
) -> None:
    repo, store = pulled
    keys = many_changes(repo, COUNT)
    targets = {k: (repo / "state" / k).read_bytes() for k in keys}
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    killed = run_logged(repo, script, mode, index, tmp_path / "killed.log", "push", "--yes")
    assert killed.returncode == -9, killed.stderr
    journal = repo / ".git/kops-gitsync/journal-default.json"
    assert journal.exists() and (store / LOCK_KEY).exists()
    landed = {k for k in keys if (store / k).exists()}
    assert all((store / k).read_bytes() == targets[k] for k in landed)

    resumed = run_logged(repo, script, "log", 0, tmp_path / "resumed.log", "push", "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert "interrupted push finished" in resumed.stderr
    rewritten = set((tmp_path / "resumed.log").read_text().split()) \
        if (tmp_path / "resumed.log").exists() else set()
    assert rewritten == set(keys) - landed  # exactly the rest, nothing twice
    assert {k: (store / k).read_bytes() for k in keys} == targets
    assert not journal.exists() and not (store / LOCK_KEY).exists()
    assert "up to date" in cli("pull", cwd=repo).out


@pytest.mark.parametrize("index", [1, 3])
def test_a_resume_never_writes_over_a_change_made_after_the_kill(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path, index: int,
) -> None:
    repo, store = pulled
    keys = many_changes(repo, COUNT)
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    killed = run_logged(repo, script, "after", index, tmp_path / "killed.log", "push", "--yes")
    assert killed.returncode == -9, killed.stderr
    landed = sorted(k for k in keys if (store / k).exists())
    missing = sorted(set(keys) - set(landed))
    assert landed and missing
    # Someone else (kops, a console) changes one written and creates one unwritten object.
    (store / landed[0]).write_text("changed after the push by someone else\n")
    (store / missing[0]).write_text("created by someone else\n")
    before = snapshot(store)

    # (the pull then stops at the merge: the store and the branch disagree on two objects)
    resumed = run_logged(repo, script, "log", 0, tmp_path / "resumed.log", "pull")
    assert "interrupted push finished" in resumed.stderr, resumed.stderr
    assert "NOT written" in resumed.stderr and missing[0] in resumed.stderr
    rewritten = set((tmp_path / "resumed.log").read_text().split()) \
        if (tmp_path / "resumed.log").exists() else set()
    assert rewritten == set(missing[1:])
    after = snapshot(store)
    assert after[landed[0]] == before[landed[0]] and after[missing[0]] == before[missing[0]]


@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_a_lock_taken_mid_batch_stops_every_write_not_yet_checked(
    pulled: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, how: str,
) -> None:
    """Parallel writers under a stolen lock: writes whose lock check was already done when
    the lock went (at most workers - 1, in flight) may land, as a write in flight always
    could; no other write starts, and the journal names exactly what landed."""
    from kops_gitsync.errors import LockLost
    from kops_gitsync.sync.journal import Journal
    from kops_gitsync.sync.lock import StoreLock
    from tests.doubles.lock_thief import TakenAfter

    repo, store = pulled
    workers = 4
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", str(workers))
    keys = many_changes(repo, 20)
    ctx = one_context(repo)
    try:
        lock = StoreLock(ctx.store, "push main")
        lock.acquire()
        thief = TakenAfter(ctx.store, 2, how)
        with pytest.raises(LockLost):
            push(replace(ctx, store=lock.fenced(thief)), apply=True, lock=lock)
        journal = Journal.load(ctx.journal_path)
    finally:
        ctx.close()
    assert len(thief.before) == 2 and len(thief.after) <= workers - 1
    landed = sorted(k for k in keys if (store / k).exists())
    assert landed == sorted(thief.before + thief.after) and len(landed) < len(keys)
    assert journal is not None and sorted(a.key for a in journal.applied) == landed


def test_a_push_lists_only_the_clusters_it_changes_and_still_sees_their_conflicts(
    pulled: tuple[Path, Path], cli: Callable[..., Run],
) -> None:
    """Three more clusters in the store; the push edits one object of one cluster: only that
    folder is listed, a store-side change elsewhere is left alone, and a store-side change
    of the edited object is still a conflict."""
    import shutil

    from kops_gitsync.sync.live import scope_of

    repo, store = pulled
    for n in range(3):
        shutil.copytree(store / CLUSTER, store / f"other-{n}.example.com")
    assert cli("pull", cwd=repo).code == 0
    (store / "other-0.example.com/config").write_text("changed in the store\n")
    nodes = repo / "state" / CLUSTER / "instancegroup/nodes"
    nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 3"))
    git(repo, "commit", "-qam", "nodes to 3")
    listed: list[str] = []
    ctx = one_context(repo)
    try:
        watched = Watched(ctx.store, hold=0)
        real_list = watched.list
        watched.list = lambda prefix="": listed.append(prefix) or real_list(prefix)  # type: ignore[method-assign]
        result = push(replace(ctx, store=watched), apply=True)
    finally:
        ctx.close()
    assert listed == [f"{CLUSTER}/"] and result.written == [f"{CLUSTER}/instancegroup/nodes"]
    assert (store / "other-0.example.com/config").read_text() == "changed in the store\n"
    assert scope_of([f"{CLUSTER}/config"], [f"{CLUSTER}/config", "b/config"]) is None  # half

    nodes.write_text(nodes.read_text().replace("maxSize: 3", "maxSize: 4"))
    git(repo, "commit", "-qam", "nodes to 4")
    (store / CLUSTER / "instancegroup/nodes").write_text("kops changed it\n")
    refused = cli("push", "--yes", cwd=repo)
    assert refused.code == 1 and "nodes" in refused.err and "stopped before writing" in refused.err
    assert (store / CLUSTER / "instancegroup/nodes").read_text() == "kops changed it\n"
