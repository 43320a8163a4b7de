"""``kops-validate-merge``: at ``pre-merge-commit``, every cluster the merge changes, as merged.

Two branches can each be valid and still merge into an invalid cluster (one adds an IG in
subnet ``b``, the other removes subnet ``b``). git only writes the merged tree at merge time,
so this runs on the index git prepared, with the branch being merged *into* (HEAD) as the
previous version: update-only rules such as "etcd clusters may not be removed" then judge
what the merge does to that branch.
"""

from __future__ import annotations

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import HookContext
from kops_gitsync.hooks.validate import validate_clusters


def run(ctx: HookContext) -> int:
    # In a merge, everything it changes relative to the branch merged into, not just what
    # the caller passed: pre-commit may split the file list across several runs.
    paths = ctx.staged_paths if staged.merge_heads(ctx.root) else ctx.files or ctx.staged_paths
    if ctx.whole_repo:
        paths = sorted({*paths, *ctx.reader.index})
    clusters = ctx.layout.clusters_touched(paths)
    return validate_clusters(ctx, clusters, ctx.head)
