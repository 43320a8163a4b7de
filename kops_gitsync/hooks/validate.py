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

from kops_gitsync.hooks.base import KOPS_VERSION_FILE, HookContext, changed_paths, cluster_files

if TYPE_CHECKING:  # the engine loads on the first check, not when a hook module is imported
    from kops_gitsync.validate.engine import Located


def judge_cluster(
    cluster_dir: str,
    blobs: Mapping[str, bytes],
    previous_blobs: Mapping[str, bytes],
    *,
    strict: bool = False,
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
    if set(files) <= {KOPS_VERSION_FILE}:
        return []
    return locate_cluster(cluster_dir, files, previous or None, strict=strict)


def blocks(located: Located) -> bool:
    """What stops a commit, a merge or a push: errors. Warnings are shown, not enforced."""
    return located.finding.severity == "error"


_LIST_FOLDERS = 100  # more clusters than this: list the whole tree (one command line)


def spec_paths(entries: Iterable[str], cluster_dirs: Iterable[str]) -> dict[str, list[str]]:
    """cluster folder -> its ``config`` and ``instancegroup/<name>`` paths among ``entries``.

    One pass over the index (or a tree listing) for all clusters: looking each cluster up
    with its own git call made the cost grow with the clusters a run judges.
    """
    wanted: dict[str, list[str]] = {d: [] for d in cluster_dirs}
    # Every path kept lies under one of the folders: that test (one C call per path) skips
    # the 25,000 entries of the other clusters before any splitting (issue 16).
    inside = tuple(d + "/" for d in wanted)
    if not inside:
        return wanted
    for path in entries:
        if not path.startswith(inside):
            continue
        head, _, name = path.rpartition("/")
        if name in ("config", KOPS_VERSION_FILE) and head in wanted:
            wanted[head].append(path)
            continue
        parent, _, kind = head.rpartition("/")
        if kind == "instancegroup" and parent in wanted:
            wanted[parent].append(path)
    return wanted


def validate_clusters(
    ctx: HookContext, cluster_dirs: Iterable[str], previous_rev: str | None
) -> int:
    """Validate each cluster as staged, once; print findings; 1 if any is an error."""
    from kops_gitsync.validate.report import format_finding

    clusters = sorted(set(cluster_dirs))
    current_paths = spec_paths(ctx.reader.index_under(clusters), clusters)
    # A commit touches a few clusters: list only their folders of the previous commit.
    folders = clusters if len(clusters) <= _LIST_FOLDERS else []
    previous_tree = ctx.reader.tree(previous_rev, folders)
    previous_paths = spec_paths(previous_tree, clusters)
    failed = False
    for cluster_dir in clusters:
        current = ctx.reader.index_blobs(current_paths[cluster_dir])
        previous = {}
        if current:
            previous = ctx.reader.pick(previous_tree, previous_paths[cluster_dir])
        for located in judge_cluster(cluster_dir, current, previous, strict=ctx.strict):
            ctx.say(format_finding(located.finding))
            failed = failed or blocks(located)
    return 1 if failed else 0


def run(ctx: HookContext) -> int:
    clusters = ctx.layout.clusters_touched(changed_paths(ctx))
    status = validate_clusters(ctx, clusters, ctx.head)
    if ctx.whole_repo:  # what a CI log should show (pre-commit prints it with --verbose)
        ctx.say(f"kops-validate: validated {len(clusters)} clusters")
    return status
