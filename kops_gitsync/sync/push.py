"""push: write what an approved commit changed back to the store, and nothing else.

The three inputs of the planner (sync/plan.py) are gathered here: *base* from the newest
observed commit the pushed commit contains, *ours* from the pushed commit's mirror, *live*
from a fresh listing taken while holding the store lock. Guards run before anything is
written; the journal makes every write after that resumable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from kops_gitsync.backup.crypt import add_encrypted_sides
from kops_gitsync.errors import FatalError, LockLost
from kops_gitsync.sync.apply import apply_entries
from kops_gitsync.sync.approval import approved_commit
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.journal import Journal, finish_interrupted_push, record_observed
from kops_gitsync.sync.live import list_live, scope_of, scoped
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.observed import observed_tip, push_source, store_lost
from kops_gitsync.sync.plan import Op, Plan, plan_push
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.precheck import check_push
from kops_gitsync.sync.pull import load_state
from kops_gitsync.sync.syncstate import Recorded, SyncState

if TYPE_CHECKING:
    from kops_gitsync.gitrepo.repo import TreeEntry
from kops_gitsync.vfs.keys import key_problem, printable


@dataclass
class PushResult:
    store: str
    branch: str
    commit: str
    plan: Plan
    applied: bool = False
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    observed_commit: str | None = None
    summary: str = ""
    sides: Sides | None = None  # what the plan was made from (the review reads both sides)


@dataclass
class Sides:
    """Everything the planner needs, read from git (live comes from the store)."""

    branch: str
    commit: str
    base_commit: str
    observed_tip: str
    base: dict[str, Recorded]
    ours: dict[str, str]  # key -> sha256
    blobs: dict[str, str]  # key -> git blob, for keys whose content push may write
    known: dict[tuple[str, str], str]
    # the mirror trees of ``commit`` and ``base_commit``, for the pre-push validation
    trees: tuple[dict[str, TreeEntry], dict[str, TreeEntry]] = ({}, {})


def _pushed_from_ancestor(
    ctx: SyncContext, observed: str, state: dict[str, Recorded], commit: str,
    state_of: Callable[[str], SyncState],
) -> dict[str, Recorded | None]:
    """What an earlier push wrote, if it was pushed from an ancestor of ``commit``.

    Those objects hold content ``commit`` already contains, so for them the push is the
    base (this is what lets two pushes from one branch follow each other without a pull).
    """
    source = push_source(ctx.repo, observed)
    parents = ctx.repo.parents(observed)
    if source is None or not parents or not ctx.repo.is_ancestor(source, commit):
        return {}
    before = state_of(parents[0]).objects
    return {
        key: state.get(key)
        for key in set(before) | set(state)
        if before.get(key) != state.get(key)
    }


def gather_sides(ctx: SyncContext, branch: str | None, check_approval: bool = True) -> Sides:
    repo = ctx.repo
    name, commit = approved_commit(ctx, branch, check_approval)
    tip = observed_tip(ctx)
    if tip is None:
        raise FatalError(f"store {ctx.name!r} has never been pulled: run `kops-gitsync pull`")
    states: dict[str, SyncState] = {}

    def state_of(observed: str) -> SyncState:
        """Each observed commit's sync state parsed once (the tip was read three times)."""
        if observed not in states:
            states[observed] = load_state(ctx, observed)
        return states[observed]

    mirrored_from = state_of(tip).url
    if mirrored_from != ctx.url:
        raise FatalError(
            f"store {ctx.name!r} mirrors {mirrored_from}, not {ctx.url}; refusing to push its "
            "history to another store (give that store its own name in .kops-gitsync.yaml)"
        )
    chain = repo.first_parent_chain(tip)
    base_commit = next((c for c in chain if repo.is_ancestor(c, commit)), None)
    if base_commit is None:
        raise FatalError(
            f"{name} does not contain any observed state of store {ctx.name!r}; "
            f"run `kops-gitsync pull` (or git merge {ctx.observed_ref}) first"
        )
    known: dict[tuple[str, str], str] = {}
    overrides: dict[str, Recorded | None] = {}
    for newer in chain[: chain.index(base_commit)]:
        state = state_of(newer).objects
        for key, rec in state.items():
            known.setdefault((key, rec.version), rec.sha256)
        overrides = _pushed_from_ancestor(ctx, newer, state, commit, state_of) | overrides
    base = dict(state_of(base_commit).objects)
    for key, pushed in overrides.items():
        if pushed is None:
            base.pop(key, None)
        else:
            base[key] = pushed
    base_tree = repo.read_tree(base_commit, ctx.mirror_path)
    ours_tree = repo.read_tree(commit, ctx.mirror_path)

    ours: dict[str, str] = {}
    blobs: dict[str, str] = {}
    for key, entry in ours_tree.items():
        if entry.mode in ("120000", "160000"):
            kind = "a symbolic link" if entry.mode == "120000" else "a submodule"
            raise FatalError(
                f"{ctx.mirror_path}/{printable(key)} is {kind} in {name}; a store holds only "
                "plain objects, so nothing was pushed"
            )
        problem = key_problem(key)
        if problem:
            raise FatalError(f"{ctx.mirror_path}/{printable(key)}: {problem}; nothing was pushed")
        same = base_tree.get(key)
        if same is not None and same.sha == entry.sha and key in base and key not in overrides:
            ours[key] = base[key].sha256
        else:
            ours[key] = hashlib.sha256(repo.read_blob(entry.sha)).hexdigest()
            blobs[key] = entry.sha
    # --- secrets: encrypt -- changed encrypted copies are pushed decrypted (backup/crypt.py)
    add_encrypted_sides(ctx, base_commit, commit, base, ours, blobs)
    return Sides(name, commit, base_commit, tip, dict(base), ours, blobs, known,
                 (ours_tree, base_tree))


def _check_guards(ctx: SyncContext, sides: Sides, plan: Plan, live_count: int,
                  max_delete: int | None) -> None:
    if plan.conflicts:
        withheld = load_state(ctx, sides.observed_tip).withheld
        hint = (" (the store's version is withheld from git: it looks like a secret or is too "
                "large; change it in the store with kops, or remove that content there and pull)")
        lines = "\n".join(f"  {c.key}: {c.reason}{hint if c.key in withheld else ''}"
                          for c in plan.conflicts)
        raise FatalError(
            f"push to {ctx.name} stopped before writing anything: the store changed since "
            f"{sides.base_commit[:12]} on the same objects as {sides.branch}:\n{lines}\n"
            "Run `kops-gitsync pull`, resolve the merge, and push again."
        )
    if not any(classify(k) is Kind.INTENT for k in sides.ours):
        raise FatalError(
            f"{sides.branch} has no cluster objects under {ctx.mirror_path}/: refusing to push "
            "an empty mirror (it would delete every cluster)"
        )
    limit = max_delete if max_delete is not None else ctx.config.max_delete_count(live_count)
    if len(plan.deletes) > limit:
        raise FatalError(
            f"push would delete {len(plan.deletes)} objects from a store of {live_count}; the "
            f"limit is {limit} (max_delete: {ctx.config.max_delete}). Check the change, or "
            "raise it for this push with --max-delete N"
        )


def _learn_conflicting_content(
    ctx: SyncContext, plan: Plan, live: dict[str, str], known: dict[tuple[str, str], str]
) -> bool:
    """Read the live objects behind conflicts: identical content is no conflict at all.

    Versions alone cannot tell "someone wrote the same bytes" (an earlier push from another
    clone, a ``kops replace`` with the reviewed file) from a real concurrent change.
    """
    learned = False
    for conflict in plan.conflicts:
        if conflict.key not in live:
            continue
        try:
            blob = ctx.store.read(conflict.key)
        except FileNotFoundError:
            continue
        if blob.version == live[conflict.key]:
            known[(conflict.key, blob.version)] = hashlib.sha256(blob.data).hexdigest()
            learned = True
    return learned


def describe_plan(ctx: SyncContext, sides: Sides, plan: Plan) -> str:
    lines = [f"push {sides.branch} ({sides.commit[:12]}) to {ctx.name} ({ctx.url}), "
             f"base {sides.base_commit[:12]}:"]
    marks = {Op.CREATE: "+", Op.UPDATE: "~", Op.DELETE: "-"}
    for action in plan.actions:
        lines.append(f"  {marks[action.op]} {action.op.value:6} {action.key}")
    if not plan.actions:
        lines.append("  nothing to write")
    if plan.already_applied:
        lines.append(f"  already in the store: {len(plan.already_applied)}")
    if plan.store_only:
        lines.append(f"  changed only in the store, left alone: {len(plan.store_only)} "
                     "(pull to see them)")
    if plan.not_pushable:
        lines.append(f"  changed in git but not pushed (derived/secret/excluded): "
                     f"{', '.join(plan.not_pushable)}")
    for conflict in plan.conflicts:
        lines.append(f"  ! conflict {conflict.key}: {conflict.reason}")
    return "\n".join(lines)


def push(
    ctx: SyncContext,
    *,
    apply: bool,
    branch: str | None = None,
    max_delete: int | None = None,
    lock: StoreLock | None = None,
    validate: bool = True,
) -> PushResult:
    """Plan (and with ``apply``, make) the writes that bring ``branch`` into the store.

    ``lock``: a lock the caller holds and fences its store with (the daemon's lease);
    otherwise push takes its own and wraps the store so that no write starts once the lock
    was removed, replaced or expired (sync/lock.py). ``validate``: run the pre-commit
    hooks' kops checks on what is about to be written (a ``--no-verify`` commit must not
    carry a broken object to the store).
    """
    if apply:
        finish_interrupted_push(ctx, lock)
    elif ctx.journal_path.exists():
        raise FatalError(f"an interrupted push to {ctx.name} is pending; `kops-gitsync push "
                         "--yes` or `kops-gitsync pull` finishes it")
    sides = gather_sides(ctx, branch)
    warnings: tuple[str, ...] = ()
    if validate:
        changed = set(sides.blobs) | (set(sides.base) - set(sides.ours))
        verdict = check_push(ctx, sides.commit, changed, base=sides.base_commit,
                             trees=sides.trees)
        if not verdict.ok:
            raise FatalError(verdict.refusal(ctx.name))
        warnings = verdict.warnings
    own_lock = None
    journal_open = False
    if apply and lock is None:
        own_lock = lock = StoreLock(ctx.store, f"push {sides.branch}")
        lock.acquire()
        ctx = replace(ctx, store=own_lock.fenced(ctx.store))
    try:
        # only the clusters this push changes are listed, when that is cheaper (sync/live.py)
        scope = scope_of(set(sides.blobs) | (set(sides.base) - set(sides.ours)), sides.base)
        live = list_live(ctx.store, scope)
        base, ours = scoped(sides.base, scope), scoped(sides.ours, scope)
        lost = store_lost(base, live)
        if lost:
            raise FatalError(f"push to {ctx.name} refused: {lost}")
        plan = plan_push(base, ours, live, sides.known, ctx.policy.pushable)
        if _learn_conflicting_content(ctx, plan, live, sides.known):
            plan = plan_push(base, ours, live, sides.known, ctx.policy.pushable)
        result = PushResult(ctx.name, sides.branch, sides.commit, plan, sides=sides)
        _check_guards(ctx, sides, plan, len(live) if scope is None else len(sides.base),
                      max_delete)
        result.summary = describe_plan(ctx, sides, plan)
        if warnings:
            result.summary += "\nwarnings (not blocking):\n" + "\n".join(
                f"  {w}" for w in warnings)
        if not apply or not plan.actions:
            return result
        assert lock is not None
        journal_open = True
        journal = Journal.start(
            ctx, sides.commit, sides.branch, sides.observed_tip,
            lock.info.id if lock.info else None,
            [(a, sides.blobs.get(a.key)) for a in plan.actions],
        )
        outcome = apply_entries(ctx, journal, journal.entries)
        for applied in outcome.applied:
            (result.deleted if applied.op == Op.DELETE.value else result.written).append(
                applied.key
            )
        done = ", ".join(result.written + result.deleted) or "none"
        if outcome.error is not None:
            journal.close()
            if isinstance(outcome.error, LockLost):
                raise LockLost(
                    f"{outcome.error} Written before that: {done}; the journal keeps the rest, "
                    "and the next push or pull finishes it once the lock is free."
                ) from None
            raise outcome.error
        stopped = ", ".join(outcome.conflicts)
        note = f"Pushed from {sides.branch} at {sides.commit[:12]}."
        if stopped:
            note += f" Stopped at {stopped}: changed in the store during the push."
        result.observed_commit = record_observed(ctx, journal, note)
        journal.finish()
        journal_open = False
        result.applied = True
        if stopped:
            raise FatalError(
                f"push stopped: {stopped} changed in the store while pushing (a concurrent "
                f"writer). Written before that: {done}. The store state is recorded; run "
                "`kops-gitsync pull` and push again."
            )
        result.summary += f"\napplied: {len(result.written)} written, {len(result.deleted)} deleted"
        return result
    finally:
        # A journal left behind keeps its lock: the next run adopts both once this
        # process is gone, and nobody else writes in between.
        if own_lock is not None and not journal_open:
            own_lock.release()
