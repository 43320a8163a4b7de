"""``kops-protect-production``: production stores change only on approved branches.

pre-commit-hooks' ``no-commit-to-branch`` protects branch names; this protects *stores*.
A change under a production store's folder is refused unless the branch it lands on matches
the store's ``approved_branches`` (fnmatch patterns; by default the repository's default
branch). Checked at commit and merge time (the current branch) and at push time (the
remote branch being pushed to), so a ``--no-verify`` commit is still stopped at the push.
"""

from __future__ import annotations

from collections import defaultdict

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import HookContext, changed_paths


def _violations(
    ctx: HookContext, paths: list[str], branch: str | None, default_branch: str
) -> dict[str, tuple[StoreConfig, list[str]]]:
    """store name -> (store, paths) for every production path the branch may not change."""
    found: dict[str, tuple[StoreConfig, list[str]]] = {}
    by_store: defaultdict[str, list[str]] = defaultdict(list)
    stores = {s.name: s for s in ctx.layout.stores if s.production}
    for obj in ctx.layout.objects(paths):
        if obj.store is not None and obj.store.name in stores:
            by_store[obj.store.name].append(obj.path)
    for name, store_paths in by_store.items():
        store = stores[name]
        if branch is None or not store.approves(branch, default_branch):
            found[name] = (store, sorted(store_paths))
    return found


def _report(
    ctx: HookContext,
    violations: dict[str, tuple[StoreConfig, list[str]]],
    branch: str | None,
    default_branch: str,
    where: str,
) -> None:
    for name, (store, paths) in sorted(violations.items()):
        patterns = ", ".join(store.approved_branches or (default_branch,))
        on = f"branch {branch!r}" if branch else "a detached HEAD"
        ctx.say(
            f"production store {name!r} ({store.path}/) may only change on branches matching "
            f"[{patterns}]; {where} {on} changes:"
        )
        for path in paths[:50]:
            ctx.say(f"  {path}")
        if len(paths) > 50:
            ctx.say(f"  ... and {len(paths) - 50} more")
    ctx.say(
        "Commit on an approved branch (or open a review against one), or add the branch to "
        "approved_branches in .kops-gitsync.yaml."
    )


def run(ctx: HookContext) -> int:
    if not any(s.production for s in ctx.layout.stores):
        return 0
    default = staged.default_branch(ctx.root)
    if ctx.stage == "push" and ctx.push_refs:
        # Plain pre-push hook: git gives one line per ref being pushed.
        failed = False
        for ref in ctx.push_refs:
            if ref.deletes or ref.remote_branch is None:
                continue
            paths = staged.pushed_paths(ref, ctx.push_remote, ctx.root)
            bad = _violations(ctx, paths, ref.remote_branch, default)
            if bad:
                _report(ctx, bad, ref.remote_branch, default, "pushing to")
                failed = True
        return 1 if failed else 0
    if ctx.stage == "push":
        branch = ctx.push_branch()
        if branch is None:
            return 0  # pushing a tag or another kind of ref: no branch to protect
        where = "pushing to"
    else:
        branch = staged.current_branch(ctx.root)
        where = "a merge on" if ctx.stage == "merge" else "a commit on"
    bad = _violations(ctx, changed_paths(ctx), branch, default)
    if bad:
        _report(ctx, bad, branch, default, where)
        return 1
    return 0
