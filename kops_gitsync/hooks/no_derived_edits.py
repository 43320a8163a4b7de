"""``kops-no-derived-edits``: generated objects change only through pulls.

``cluster-completed.spec``, ``igconfig/``, ``manifests/``, ``addons/`` and
``kops-version.txt`` are written by ``kops update cluster``. A hand edit is either lost at
the next update or, worse, pushed: nodeup refuses a nodeupconfig whose hash moved and
channels re-applies a changed addon within a minute. The only legitimate source of such a
change is a pull, which merges ``refs/kops-gitsync/observed/<store>``; that merge is
recognised by the merged commit being (an ancestor of) an observed ref, and even then only
paths whose staged content is exactly what a merged store state holds pass: a hand edit made
in the middle of such a merge is still a hand edit.
"""

from __future__ import annotations

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import HookContext, changed_paths, print_listing
from kops_gitsync.sync.policy import Kind, classify


def _is_pull_merge(ctx: HookContext) -> bool:
    """Every commit being merged is (an ancestor of) a pulled store state."""
    heads = staged.merge_heads(ctx.root)
    tips = staged.observed_tips(ctx.root)
    return bool(heads) and all(
        any(head == tip or staged.is_ancestor(head, tip, ctx.root) for tip in tips)
        for head in heads
    )


def _not_from_merged_state(ctx: HookContext, paths: list[str]) -> list[str]:
    """The paths whose staged content (or absence) matches none of the merged heads."""
    staged_now = staged.index_blobs(paths, ctx.root)
    heads = [staged.tree_blobs(head, paths, ctx.root) for head in staged.merge_heads(ctx.root)]
    return [
        path for path in paths
        if all(head.get(path) != staged_now.get(path) for head in heads)
    ]


def run(ctx: HookContext) -> int:
    derived = [
        obj.path
        for obj in ctx.layout.objects(changed_paths(ctx))
        if classify(obj.key) is Kind.DERIVED
    ]
    if derived and _is_pull_merge(ctx):
        derived = _not_from_merged_state(ctx, derived)
    if not derived:
        return 0
    print_listing(
        ctx, "generated objects (written by `kops update cluster`) changed by hand:", derived
    )
    ctx.say(
        "Edit the Cluster or InstanceGroup instead and let `kops update cluster` regenerate "
        "these; `kops-gitsync pull` brings the result into git. To undo: git restore --staged "
        "--worktree <file>."
    )
    return 1
