"""status: how a store and the current branch stand, computed, never cached.

Store ahead = the live listing against the newest observed state; git ahead = what push
would write from the current branch; conflicts = keys both sides changed. The same planner
as push, so status never disagrees with what push would do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.approval import branch_approval
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.journal import Journal
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.observed import observed_tip, store_lost
from kops_gitsync.sync.plan import plan_push
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.pull import load_state
from kops_gitsync.sync.push import gather_sides
from kops_gitsync.vfs.keys import key_problem, printable


@dataclass
class StoreStatus:
    store: str
    url: str
    observed: str | None = None
    store_ahead: list[str] = field(default_factory=list)
    git_ahead: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unmerged_observed: bool = False
    branch: str | None = None
    branch_approved: bool = False
    lock: str | None = None
    journal_pending: bool = False
    problems: list[str] = field(default_factory=list)  # what pull or push would refuse

    @property
    def failed(self) -> bool:
        """Exit non-zero: a cron job or CI must see what a person would."""
        return bool(self.conflicts or self.problems)

    def render(self) -> str:
        lines = [f"{self.store} ({self.url})"]
        if self.observed is None:
            lines.append("  never pulled")
        lines.append(f"  store ahead: {len(self.store_ahead)} object(s) not pulled yet"
                     + (f": {_keys(self.store_ahead[:5])}" if self.store_ahead else ""))
        approval = "approved" if self.branch_approved else "NOT approved"
        lines.append(f"  git ahead: {len(self.git_ahead)} object(s) to push from "
                     f"{self.branch or 'HEAD'} ({approval})"
                     + (f": {_keys(self.git_ahead[:5])}" if self.git_ahead else ""))
        lines.append(f"  conflicts: {len(self.conflicts)}"
                     + (f": {_keys(self.conflicts)}" if self.conflicts else ""))
        if self.unmerged_observed:
            lines.append("  the newest store state is not merged into this branch (run pull)")
        if self.lock:
            lines.append(f"  locked: {self.lock}")
        if self.journal_pending:
            lines.append("  an interrupted push is pending (push --yes or pull finishes it)")
        lines += [f"  ! {problem}" for problem in self.problems]
        return "\n".join(lines)


def _keys(keys: list[str]) -> str:
    """Keys as a line can show them: a store key may hold a newline or a terminal escape."""
    return ", ".join(printable(k) for k in keys)


def store_status(ctx: SyncContext) -> StoreStatus:
    repo = ctx.repo
    result = StoreStatus(ctx.name, ctx.url, branch=repo.current_branch())
    # The rule push applies (sync/approval.py), as of the last fetch; computed before
    # anything can return early (a fresh clone has no observed ref yet, and used to be
    # reported "NOT approved" for that reason alone).
    result.branch_approved = branch_approval(ctx, result.branch) is None
    journal = Journal.load(ctx.journal_path)
    result.journal_pending = journal is not None
    tip = observed_tip(ctx)
    result.observed = tip
    lock = StoreLock.inspect(ctx.store)
    if lock.version is not None:
        result.lock = lock.describe()
        if lock.info is None:
            result.problems.append(
                f"the lock object cannot be read, so push refuses ({lock.problem}); see "
                "`kops-gitsync unlock`")
    live = {o.key: o.version for o in ctx.store.list() if classify(o.key) is not Kind.TOOL}
    mirrored_live = {k: v for k, v in live.items() if ctx.policy.mirrored(k)}
    unsafe = [f"{printable(k)!r}: {p}" for k in mirrored_live if (p := key_problem(k))]
    if unsafe:
        result.problems.append(
            "the store holds keys pull refuses to mirror: " + "; ".join(unsafe[:10])
        )
    if tip is None:
        result.store_ahead = sorted(mirrored_live)
        return result
    state = load_state(ctx, tip)
    if state.url != ctx.url:
        result.problems.append(
            f"{ctx.name} was mirrored from {state.url}, not {ctx.url}: pull and push refuse "
            "this store (give it its own name in .kops-gitsync.yaml)"
        )
        return result
    lost = store_lost(state.objects, live)
    if lost:
        result.problems.append(lost)
    # A pending push's own writes are neither news from the store nor conflicts.
    own = {(a.key, a.version) for a in journal.applied} if journal else set()
    result.store_ahead = sorted(
        k for k in set(mirrored_live) | set(state.objects)
        if (state.objects[k].version if k in state.objects else None) != mirrored_live.get(k)
        and not (k in state.withheld and state.withheld[k] == mirrored_live.get(k))
        and (k, mirrored_live.get(k)) not in own
    )
    head = repo.head_commit()
    result.unmerged_observed = head is None or not repo.is_ancestor(tip, head)
    if result.branch is None:
        return result
    try:
        sides = gather_sides(ctx, result.branch, check_approval=False)
    except FatalError:
        return result
    if journal is not None and repo.is_ancestor(journal.source_commit, sides.commit):
        _learn_journal(ctx, journal, live, sides.known)
    plan = plan_push(sides.base, sides.ours, live, sides.known, ctx.policy.pushable)
    result.git_ahead = [a.key for a in plan.actions]
    result.conflicts = [c.key for c in plan.conflicts]
    return result


def _learn_journal(
    ctx: SyncContext, journal: Journal, live: dict[str, str], known: dict[tuple[str, str], str]
) -> None:
    """Teach the planner what a pending push already wrote, so it is no conflict.

    Journalled writes are known by version; the one write a kill can tear (done, not yet
    journalled) is recognised by reading that object once.
    """
    done = set()
    for applied in journal.applied:
        done.add(applied.key)
        if applied.version is not None and applied.sha256 is not None:
            known[(applied.key, applied.version)] = applied.sha256
    for entry in journal.entries:
        version = live.get(entry.key)
        if entry.key in done or version is None or version == entry.expect:
            continue
        try:
            blob = ctx.store.read(entry.key)
        except FileNotFoundError:
            continue
        if blob.version == version:
            known[(entry.key, version)] = hashlib.sha256(blob.data).hexdigest()
