"""One store's turn: pull, then (if allowed) push, with every rule the daemon promises.

The rules, in the order they are checked:

* a store whose lease another daemon holds is left alone (standby);
* the store is always recorded on its observed ref, but merged into the checked-out branch
  only when nobody is working there (no uncommitted change, no merge or rebase in
  progress): the daemon never commits into somebody's work in progress;
* a push happens only for ``auto_push`` stores, only from an approved branch (push itself
  refuses anything else; the daemon does not try to be cleverer), only when that branch or
  the observed state moved since the last check, and only while the lease is valid. Every
  store write goes through :class:`LeaseGuardedStore`, so a lease lost in the middle of a
  push stops it before its next write; the push journal finishes or accounts for the rest.
  With replicas (daemon/replicas.py) the same check asks the lease's gate first: a store
  assigned to another replica, or a replica whose membership Lease lapsed, writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.lease import Lease
from kops_gitsync.daemon.scheduler import StoreSchedule
from kops_gitsync.daemon.state import StoreState, iso
from kops_gitsync.errors import FatalError, FatalStoreError, LockLost, StoreError
from kops_gitsync.sync.approval import approves_branch
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.journal import Journal
from kops_gitsync.sync.pull import PullResult, pull
from kops_gitsync.sync.push import PushResult, push
from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.guarded import GuardedStore


class LeaseGuardedStore(GuardedStore):
    """The store as push sees it: every write first checks that the lease is still valid."""

    def __init__(self, store: Store, lease: Lease) -> None:
        super().__init__(store, self._check)
        self._lease = lease

    def _check(self, key: str) -> None:
        refused = self._lease.refused()  # replicas: the store is not ours, or we are cut off
        if refused is not None:
            raise FatalStoreError(f"{self.url}: stopped before writing {key}: {refused}",
                                  key=key)
        if not self._lease.valid():
            raise FatalStoreError(
                f"lease on {self.url} lost: stopped before writing {key} "
                "(the push journal finishes the rest when the lease is back)",
                key=key,
            )
        self._lease.ensure_held()  # the lock object itself: not removed, not replaced


@dataclass
class Outcome:
    """What one turn did, for the log line, the metrics and the state file."""

    action: str
    result: str
    started: float = field(default_factory=time.monotonic)
    objects_read: int = 0
    objects_written: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started


def work_in_progress(ctx: SyncContext) -> str | None:
    """Why the checked-out branch must not get a merge commit now (None: it may).

    The daemon merges the store only into the branch it pushes from. Someone who checked
    out a feature branch in the daemon's clone is working there, and a merge commit from
    the store in the middle of that work is exactly what must never happen.
    """
    repo = ctx.repo
    branch = repo.current_branch()
    if branch is None:
        return "HEAD is detached"
    if not approves_branch(ctx, branch):
        return f"{branch} is checked out, not an approved branch of {ctx.name}"
    busy = repo.operation_in_progress()
    if busy:
        return f"the repository is in the middle of {busy}"
    dirty = repo.dirty_paths(["."])
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        return f"uncommitted changes ({shown})"
    return None


def push_branch(ctx: SyncContext) -> str | None:
    """The approved branch the daemon pushes: the checked-out one, else the default one.

    Approved by the config on the approved branch (sync/approval.py), never by the
    working tree's: a branch checked out in the daemon's clone cannot approve itself.
    """
    repo = ctx.repo
    for candidate in (repo.current_branch(), repo.default_branch()):
        if candidate and approves_branch(ctx, candidate) and repo.resolve(
            f"refs/heads/{candidate}"
        ):
            return candidate
    return None


def error_kind(exc: BaseException) -> str:
    """A short, stable label for metrics and logs: what class of failure this was."""
    if isinstance(exc, LockLost):
        return "lease-lost"
    if isinstance(exc, FatalError):
        return "refused"
    if isinstance(exc, StoreError):
        return {"RetryableStoreError": "store-unavailable", "FatalStoreError": "store-fatal",
                "PreconditionFailed": "conflict", "ObjectExists": "conflict",
                "InvalidKey": "invalid-key"}.get(type(exc).__name__, "store")
    if isinstance(exc, FileNotFoundError | PermissionError):
        return "filesystem"
    if type(exc).__module__.startswith("git"):
        return "git"
    return "internal"


class StoreRunner:
    """Everything the loop keeps about one store between its turns."""

    def __init__(self, ctx: SyncContext, schedule: StoreSchedule, lease: Lease | None) -> None:
        self.ctx = ctx
        self.schedule = schedule
        self.lease = lease
        self.state = StoreState(url=ctx.url, auto_push=ctx.config.auto_push)
        self.checked: tuple[str | None, str | None] | None = None  # (branch tip, observed tip)

    @property
    def name(self) -> str:
        return self.ctx.name

    def _push_key(self, branch: str | None) -> tuple[str | None, str | None] | None:
        """What a push depends on: the branch tip and the observed store state."""
        if branch is None:
            return None
        repo = self.ctx.repo
        return repo.resolve(f"refs/heads/{branch}"), repo.resolve(self.ctx.observed_ref)

    def standby(self) -> bool:
        return self.lease is not None and not self.lease.valid()

    def count_requests(self) -> None:
        """Copy the store's request counters (network backends keep them) to the state."""
        counts = getattr(self.ctx.store, "request_counts", None)
        if counts is not None:
            self.state.store_requests = dict(counts)

    def pull_step(self) -> Outcome:
        outcome = Outcome("pull", "unchanged")
        ctx = self.ctx
        if (ctx.journal_path.exists() and self.lease is not None and self.lease.held
                and self.lease.refused() is None):
            self._finish_journal_with_lease()
        wip = work_in_progress(ctx)
        branch = push_branch(ctx) if ctx.config.auto_push else None
        before = self._push_key(branch)
        result: PullResult = pull(ctx, merge=wip is None)
        if result.merged and before is not None and before == self.checked:
            self._skip_own_merge(before)
        outcome.objects_read = result.objects_read
        changed = len(result.added) + len(result.modified) + len(result.deleted)
        if result.observed_commit is not None:
            outcome.result = "changed"
        outcome.extra = {"committed": changed, "merged": result.merged,
                         "commit": (result.observed_commit or "")[:12] or None}
        observed = ctx.repo.resolve(ctx.observed_ref)
        if wip is not None and observed is not None:
            head = ctx.repo.head_commit()
            if head is None or not ctx.repo.is_ancestor(observed, head):
                outcome.extra["merge_deferred"] = wip
        self.state.merge_deferred = outcome.extra.get("merge_deferred")
        self.state.last_pull = iso(time.time())
        self.state.last_pull_summary = result.summary
        self.count_requests()
        return outcome

    def _skip_own_merge(self, before: tuple[str | None, str | None]) -> None:
        """Merging the store into a branch that matched it leaves nothing to push.

        Recorded only when the branch tip is exactly that merge (or the fast-forward to the
        observed state): a commit somebody made a moment later must still be pushed.
        """
        repo, observed = self.ctx.repo, self.ctx.repo.resolve(self.ctx.observed_ref)
        branch = push_branch(self.ctx)
        tip = repo.resolve(f"refs/heads/{branch}") if branch else None
        if tip is None or observed is None:
            return
        ours = tip == observed or (
            repo.resolve(f"{tip}^1") == before[0] and repo.resolve(f"{tip}^2") == observed
        )
        if ours:
            self.checked = (tip, observed)

    def _finish_journal_with_lease(self) -> None:
        """Let pull finish an interrupted push under its own lock, then take the lease back.

        ``finish_interrupted_push`` takes the store lock itself (adopting the one the
        journal names), and would delete our lease object behind our back. Handing the lease
        back first keeps the lock object's history simple: ours, then the resume's, then
        ours again (or a standby's, which is then the rightful writer).
        """
        assert self.lease is not None
        self.lease.release()
        try:
            pull(self.ctx, merge=False)
        finally:
            self.lease.tick()

    def push_step(self) -> Outcome | None:
        """Push if this store may be pushed and something moved; None when nothing to do."""
        ctx, lease = self.ctx, self.lease
        if not ctx.config.auto_push or lease is None:
            return None
        branch = push_branch(ctx)
        if branch is None:
            return None  # nothing approved is checked out or exists: nothing may be pushed
        key = self._push_key(branch)
        if key == self.checked:
            return None
        if not lease.valid():
            return None
        outcome = Outcome("push", "unchanged", extra={"branch": branch})
        guarded = replace(ctx, store=LeaseGuardedStore(ctx.store, lease))
        # Pending until this push succeeds: it may fail, be refused or stop half-way.
        self.state.pending_push = key[0] if key else None
        try:
            result: PushResult = push(guarded, apply=True, branch=branch, lock=lease.lock)
        except LockLost:
            raise  # not a verdict on these commits: the journal resumes them with the lease
        except FatalError as exc:
            # A refusal (conflict, guard): trying the same commits again cannot help; the
            # next move of the branch or the store is a new situation worth a new try.
            self.checked = key
            self.state.conflict = str(exc)
            raise
        # What was pushed, not what the branch is now: a commit made during the push is new.
        self.checked = (result.commit, ctx.repo.resolve(ctx.observed_ref))
        outcome.objects_written = len(result.written) + len(result.deleted)
        self.state.pending_push = self.state.conflict = None
        if result.applied:
            outcome.result = "written"
            self.state.last_pushed_commit = result.commit
        outcome.extra["commit"] = result.commit[:12]
        self.state.drift = len(result.plan.store_only)
        self.state.last_push = iso(time.time())
        self.state.last_push_summary = result.summary.splitlines()[-1] if result.summary else ""
        self.count_requests()
        return outcome

    def measure_drift(self) -> int | None:
        """Objects that differ between the store and the approved branch (a dry-run plan)."""
        branch = push_branch(self.ctx)
        if branch is None or self.ctx.journal_path.exists():
            return None
        result = push(self.ctx, apply=False, branch=branch)
        plan = result.plan
        return len(plan.actions) + len(plan.conflicts) + len(plan.store_only)


def log_outcome(runner: StoreRunner, outcome: Outcome, reason: str, *,
                error: str | None = None, exc_info: bool = False) -> None:
    """The one event line of a finished (or failed) operation, at the level its result needs."""
    fields = dict(store=runner.name, action=outcome.action, result=outcome.result,
                  duration=round(outcome.duration, 3), objects_read=outcome.objects_read,
                  objects_written=outcome.objects_written, trigger=reason, **outcome.extra)
    if error is not None:
        fields["error"] = error
    level = logging.ERROR if outcome.result == "error" else (
        logging.WARNING if outcome.result == "refused" else logging.INFO)
    logs.log.log(level, "", extra={"event": fields}, exc_info=exc_info)


def journal_lock_id(ctx: SyncContext) -> str | None:
    """The lock id an interrupted push recorded: ours to adopt at start-up."""
    try:
        journal = Journal.load(ctx.journal_path)
    except (OSError, ValueError):
        return None
    return journal.lock_id if journal is not None else None


def requests_sent(runners: Mapping[str, StoreRunner]) -> int:
    """All requests the stores have sent: a pull that keeps talking is not stalled."""
    return sum(sum(getattr(r.ctx.store, "request_counts", {}).values())
               for r in list(runners.values()))


def status_line(runners: Iterable[StoreRunner], config_error: str | None) -> str:
    """systemd's STATUS= line: how many stores, which stand by, which fail."""
    runners = list(runners)
    failing = [r.name for r in runners if r.schedule.failures]
    standby = [r.name for r in runners if r.standby()]
    parts = [f"{len(runners)} stores"]
    if standby:
        parts.append(f"standby: {', '.join(standby)}")
    if failing:
        parts.append(f"failing: {', '.join(failing)}")
    if config_error:
        parts.append("config reload rejected")
    return "; ".join(parts)
