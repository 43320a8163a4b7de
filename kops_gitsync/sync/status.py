"""status: how a store and the current branch stand, computed, never cached.

Store ahead = the live listing against the newest observed state; git ahead = what push
would write from the current branch; conflicts = keys both sides changed. The same planner
as push, so status never disagrees with what push would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.approval import branch_approval
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.plan import plan_push
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.pull import load_state
from kops_gitsync.sync.push import gather_sides


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

    def render(self) -> str:
        lines = [f"{self.store} ({self.url})"]
        if self.observed is None:
            lines.append("  never pulled")
        lines.append(f"  store ahead: {len(self.store_ahead)} object(s) not pulled yet"
                     + (f": {', '.join(self.store_ahead[:5])}" if self.store_ahead else ""))
        approval = "approved" if self.branch_approved else "NOT approved"
        lines.append(f"  git ahead: {len(self.git_ahead)} object(s) to push from "
                     f"{self.branch or 'HEAD'} ({approval})"
                     + (f": {', '.join(self.git_ahead[:5])}" if self.git_ahead else ""))
        lines.append(f"  conflicts: {len(self.conflicts)}"
                     + (f": {', '.join(self.conflicts)}" if self.conflicts else ""))
        if self.unmerged_observed:
            lines.append("  the newest store state is not merged into this branch (run pull)")
        if self.lock:
            lines.append(f"  locked: {self.lock}")
        if self.journal_pending:
            lines.append("  an interrupted push is pending (push --yes or pull finishes it)")
        return "\n".join(lines)


def store_status(ctx: SyncContext) -> StoreStatus:
    repo = ctx.repo
    result = StoreStatus(ctx.name, ctx.url, branch=repo.current_branch())
    # The rule push applies (sync/approval.py), as of the last fetch; computed before
    # anything can return early (a fresh clone has no observed ref yet, and used to be
    # reported "NOT approved" for that reason alone).
    result.branch_approved = branch_approval(ctx, result.branch) is None
    result.journal_pending = ctx.journal_path.exists()
    tip = repo.resolve(ctx.observed_ref)
    result.observed = tip
    info, version = StoreLock.holder(ctx.store)
    if version is not None:
        result.lock = info.describe() if info else "unreadable lock object"
    live = {o.key: o.version for o in ctx.store.list() if classify(o.key) is not Kind.TOOL}
    if tip is None:
        result.store_ahead = sorted(k for k in live if ctx.policy.mirrored(k))
        return result
    state = load_state(ctx, tip)
    mirrored_live = {k: v for k, v in live.items() if ctx.policy.mirrored(k)}
    result.store_ahead = sorted(
        k for k in set(mirrored_live) | set(state.objects)
        if (state.objects[k].version if k in state.objects else None) != mirrored_live.get(k)
        and state.withheld.get(k) != mirrored_live.get(k)
    )
    head = repo.head_commit()
    result.unmerged_observed = head is None or not repo.is_ancestor(tip, head)
    if result.branch is None:
        return result
    try:
        sides = gather_sides(ctx, result.branch, check_approval=False)
    except FatalError:
        return result
    plan = plan_push(sides.base, sides.ours, live, sides.known, ctx.policy.pushable)
    result.git_ahead = [a.key for a in plan.actions]
    result.conflicts = [c.key for c in plan.conflicts]
    return result
