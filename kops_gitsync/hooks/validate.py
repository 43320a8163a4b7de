"""``kops-validate``: each cluster a commit touches, validated as a whole after the change.

Validating only the changed file would miss the classic review trap: an InstanceGroup edit
is fine on its own, but the cluster it belongs to no longer has the subnet it names (or a
Cluster edit drops a subnet an untouched IG still uses). So the hook reads the cluster's
``config`` and *all* its InstanceGroups from the index and hands them to the validation
engine together, with the committed (HEAD) versions as ``previous`` for the update rules.

``judge_cluster`` is that step on its own, blobs in and findings out, so that ``push``
(sync/precheck.py) runs exactly these checks on the commit it is about to write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import (
    HookContext,
    changed_paths,
    cluster_files,
    cluster_pathspecs,
)

if TYPE_CHECKING:  # the engine loads on the first check, not when a hook module is imported
    from kops_gitsync.validate.engine import Located


def judge_cluster(
    cluster_dir: str, blobs: Mapping[str, bytes], previous_blobs: Mapping[str, bytes]
) -> list[Located]:
    """Findings for one cluster folder, from blobs keyed by repository path.

    Only ``config`` and ``instancegroup/<name>`` under ``cluster_dir`` are read from
    ``blobs`` (the state to judge) and ``previous_blobs`` (the state before, for the
    update rules; empty for a new cluster). A cluster with no spec file left is deleted:
    nothing to judge.
    """
    from kops_gitsync.validate.engine import locate_cluster

    files = cluster_files(dict(blobs), cluster_dir)
    if not files:
        return []
    previous = cluster_files(dict(previous_blobs), cluster_dir)
    return locate_cluster(cluster_dir, files, previous or None)


def blocks(located: Located) -> bool:
    """What stops a commit, a merge or a push: errors. Warnings are shown, not enforced."""
    return located.finding.severity == "error"


def validate_clusters(
    ctx: HookContext, cluster_dirs: Iterable[str], previous_rev: str | None
) -> int:
    """Validate each cluster as staged; print findings; 1 if any is an error."""
    from kops_gitsync.validate.report import format_finding

    failed = False
    for cluster_dir in cluster_dirs:
        specs = cluster_pathspecs(cluster_dir)
        current = staged.index_blobs(specs, ctx.root)
        previous = staged.tree_blobs(previous_rev, specs, ctx.root) if current else {}
        for located in judge_cluster(cluster_dir, current, previous):
            ctx.say(format_finding(located.finding))
            failed = failed or blocks(located)
    return 1 if failed else 0


def run(ctx: HookContext) -> int:
    clusters = ctx.layout.clusters_touched(changed_paths(ctx))
    return validate_clusters(ctx, clusters, staged.resolve("HEAD", ctx.root))
