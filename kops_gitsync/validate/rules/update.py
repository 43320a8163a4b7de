"""Update-only rules: what may not change once a cluster exists.

kops runs these in ``ValidateClusterUpdate`` when an existing Cluster is replaced or
edited. They compare the change with the cluster's previous state: the base of the
commit, or the last pulled store state. Removing or renaming an etcd cluster, or moving a
member to another instance group, strands etcd's data volumes; kops refuses it, and the
hook refuses it before it is approved.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_C = "pkg/apis/kops/validation/cluster.go: ValidateClusterUpdate"
RESERVED_LABEL_PREFIXES = ("kubernetes.io/cluster/", "k8s.io/role/", "kops.k8s.io/")
RESERVED_LABELS = ("Name", "KubernetesCluster")

ETCD_REMOVED = rule(
    "update-etcd-removed",
    "removing or renaming an etcd cluster of a running cluster abandons its data",
    "keep the etcd cluster and its name as they were", _C, update_only=True)
ETCD_MEMBER_IG_CHANGED = rule(
    "update-etcd-member-ig-changed",
    "an etcd member's volume belongs to its instance group; moving it strands the data",
    "keep the member's instanceGroup; add a new member instead", _C, update_only=True)
CLOUD_LABELS_RESERVED = rule(
    "update-cloud-labels-reserved",
    "kops and the cloud controllers own some tag names; overriding them breaks discovery",
    "rename the cloud label (not Name, KubernetesCluster, kubernetes.io/cluster/*,"
    " k8s.io/role/*, kops.k8s.io/*)", _C, update_only=True)


def _etcd_by_name(view: ClusterView) -> dict[str, tuple[int, dict[str, Any]]]:
    return {as_str(etcd.get("name")): (index, etcd) for index, etcd in view.etcd_clusters()}


def _members(etcd: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {
        as_str(m.get("name")): (position, as_str(m.get("instanceGroup")))
        for position, m in enumerate(as_list(etcd.get("etcdMembers")))
        if isinstance(m, dict)
    }


def check_etcd_kept(previous: ClusterView, current: ClusterView) -> Iterator[Issue]:
    before, after = _etcd_by_name(previous), _etcd_by_name(current)
    for name in sorted(set(before) - set(after)):
        added = sorted(set(after) - set(before))
        how = f"renamed to {added[0]!r} or removed" if added else "removed"
        yield cluster_issue(ETCD_REMOVED, ("spec", "etcdClusters"),
                            f"etcd cluster {name!r} was {how}; an existing cluster's etcd"
                            " clusters cannot be removed or renamed, restore it")
    for name in sorted(set(before) & set(after)):
        index, etcd = after[name]
        old_members = _members(before[name][1])
        for member, (position, group) in _members(etcd).items():
            old = old_members.get(member)
            if old is not None and old[1] != group:
                yield cluster_issue(
                    ETCD_MEMBER_IG_CHANGED,
                    ("spec", "etcdClusters", index, "etcdMembers", position, "instanceGroup"),
                    f"etcd {name!r} member {member!r} moved from instance group {old[1]!r} to"
                    f" {group!r}; keep {old[1]!r} (add a new member to move)")


def check_cloud_labels(previous: ClusterView, current: ClusterView) -> Iterator[Issue]:
    del previous  # kops checks the new spec, but only on update
    for label in as_dict(current.spec.get("cloudLabels")):
        text = str(label)
        if text in RESERVED_LABELS or text.startswith(RESERVED_LABEL_PREFIXES):
            yield cluster_issue(CLOUD_LABELS_RESERVED, ("spec", "cloudLabels", text),
                                f"cloud label {text!r} is reserved by kops; rename it",
                                at_key=True)


CHECKS = (check_etcd_kept, check_cloud_labels)
