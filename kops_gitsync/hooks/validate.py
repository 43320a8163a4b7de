"""``kops-validate``: each cluster a commit touches, validated as a whole after the change.

Validating only the changed file would miss the classic review trap: an InstanceGroup edit
is fine on its own, but the cluster it belongs to no longer has the subnet it names (or a
Cluster edit drops a subnet an untouched IG still uses). So the hook reads the cluster's
``config`` and *all* its InstanceGroups from the index and hands them to the validation
engine together, with the committed (HEAD) versions as ``previous`` for the update rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import (
    HookContext,
    changed_paths,
    cluster_files,
    cluster_pathspecs,
)


def validate_clusters(
    ctx: HookContext, cluster_dirs: Iterable[str], previous_rev: str | None
) -> int:
    """Validate each cluster as staged; print findings; 1 if any is an error."""
    from kops_gitsync.validate import validate_cluster
    from kops_gitsync.validate.report import format_finding

    failed = False
    for cluster_dir in cluster_dirs:
        specs = cluster_pathspecs(cluster_dir)
        files = cluster_files(staged.index_blobs(specs, ctx.root), cluster_dir)
        if not files:
            continue  # the whole cluster is deleted: nothing left to validate
        previous = cluster_files(staged.tree_blobs(previous_rev, specs, ctx.root), cluster_dir)
        findings = validate_cluster(cluster_dir, files, previous or None)
        for finding in findings:
            ctx.say(format_finding(finding))
            failed = failed or finding.severity == "error"
    return 1 if failed else 0


def run(ctx: HookContext) -> int:
    clusters = ctx.layout.clusters_touched(changed_paths(ctx))
    return validate_clusters(ctx, clusters, staged.resolve("HEAD", ctx.root))
