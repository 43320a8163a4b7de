"""Changes that need more than a glance on a kops cluster, and why.

Each flag has a stable ``code`` (the JSON output and docs/diff.md use it) and a reason a
reviewer can act on. The rules follow what ``kops update cluster`` / ``kops rolling-update``
do with the change, not whether kops accepts it: everything flagged here is valid, and can
still take a cluster down if applied without the procedure kops documents for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kops_gitsync.review.fielddiff import MISSING, FieldChange

CONTROL_PLANE_ROLES = frozenset({"Master", "ControlPlane"})
# spec.networking.<provider> keys (kops v1alpha2 and v1alpha3); one of them is set.
NETWORK_PROVIDERS = frozenset({
    "classic", "kubenet", "external", "cni", "kopeio", "weave", "flannel", "calico", "canal",
    "kuberouter", "romana", "amazonvpc", "amazonVPC", "cilium", "lyftvpc", "gce", "kindnet",
})
# Cluster-wide ranges kops refuses or cannot safely move on a running cluster.
CLUSTER_CIDR_FIELDS = frozenset({
    "networkCIDR", "additionalNetworkCIDRs", "nonMasqueradeCIDR", "serviceClusterIPRange",
    "podCIDR",
})

REASONS = {
    "etcd-members": "etcd membership changes: etcd-manager must add or remove one member at a "
                    "time and keep quorum; a wrong change makes the API server unavailable "
                    "and may need a restore from backup",
    "etcd-clusters": "an etcd cluster is added or removed: its volumes and data are created "
                     "or orphaned, and the API server depends on main and events",
    "etcd-settings": "etcd version or manager settings: etcd-manager restarts or upgrades "
                     "etcd on every control-plane node; take a backup first",
    "kubernetes-version": "kubernetesVersion changes: every node is replaced by a rolling "
                          "update; kops supports one minor version at a time and no downgrade",
    "networking": "the networking provider changes: pods lose connectivity until every node "
                  "is replaced; kops does not migrate between providers",
    "subnet-cidr": "a subnet CIDR changes or a subnet goes away: cloud subnets cannot be "
                   "resized in place, and instances in it must move",
    "cluster-cidr": "a cluster-wide address range changes (network, service or pod CIDR): "
                    "existing nodes, services and pods keep the old addresses",
    "config-base": "configBase changes: nodes read their configuration from there and stop "
                   "finding it until every node is replaced",
    "control-plane": "a control-plane InstanceGroup changes: its nodes run etcd and the API "
                     "server; roll them one at a time",
    "instancegroup-deleted": "an InstanceGroup is deleted (prune): `kops update cluster "
                             "--yes` terminates its instances",
    "instancegroup-role": "an InstanceGroup changes role: kops replaces its nodes with "
                          "differently configured ones",
    "cluster-deleted": "the Cluster object is deleted: kops no longer knows the cluster, "
                       "its resources stay running and unmanaged",
}


@dataclass
class Risk:
    code: str
    key: str  # the object, relative to the mirror folder
    paths: list[str] = field(default_factory=list)  # the changed fields that raised it

    @property
    def reason(self) -> str:
        return REASONS[self.code]


def _spec(doc: Any) -> dict[str, Any]:
    spec = doc.get("spec") if isinstance(doc, dict) else None
    return spec if isinstance(spec, dict) else {}


def _providers(doc: Any) -> set[str]:
    networking = _spec(doc).get("networking")
    if not isinstance(networking, dict):
        return set()
    return {k for k in networking if k in NETWORK_PROVIDERS}


def _field_code(change: FieldChange) -> str | None:
    seg = [s["name"] if isinstance(s, dict) else s for s in change.segments]
    if seg[:1] != ["spec"] or len(seg) < 2:
        return None
    if seg[1] == "etcdClusters":
        if len(seg) <= 3:
            return "etcd-clusters"
        return "etcd-members" if seg[3] == "etcdMembers" else "etcd-settings"
    if seg[1] == "kubernetesVersion":
        return "kubernetes-version"
    if seg[1] == "configBase":
        return "config-base"
    rest = seg[2:] if seg[1] == "networking" else seg[1:]
    if rest[:1] == ["subnets"]:
        if len(rest) == 1 or (len(rest) == 2 and change.new is MISSING):
            return "subnet-cidr"
        if len(rest) >= 3 and rest[2] in ("cidr", "ipv6CIDR"):
            return "subnet-cidr"
    if rest[:1] and rest[0] in CLUSTER_CIDR_FIELDS:
        return "cluster-cidr"
    return None


def cluster_risks(key: str, old: Any, new: Any, changes: Sequence[FieldChange]) -> list[Risk]:
    """Risks of changing (or creating, or deleting) the Cluster object ``key``."""
    if new is None:
        return [Risk("cluster-deleted", key)] if old is not None else []
    found: dict[str, Risk] = {}
    for change in changes:
        code = _field_code(change)
        if code is not None:
            found.setdefault(code, Risk(code, key)).paths.append(change.path)
    if old is not None and _providers(old) != _providers(new):
        paths = [c.path for c in changes if c.segments[:2] == ("spec", "networking")]
        found.setdefault("networking", Risk("networking", key, paths))
    return sorted(found.values(), key=lambda r: r.code)


def _role(doc: Any) -> str | None:
    role = _spec(doc).get("role")
    return role if isinstance(role, str) else None


def instancegroup_risks(
    key: str, old: Any, new: Any, changes: Sequence[FieldChange]
) -> list[Risk]:
    """Risks of an InstanceGroup change; ``old``/``new`` None when created/deleted."""
    risks: list[Risk] = []
    if old is not None and new is None:
        risks.append(Risk("instancegroup-deleted", key))
    if old is not None and new is not None and _role(old) != _role(new):
        risks.append(Risk("instancegroup-role", key, ["spec.role"]))
    if {_role(old), _role(new)} & CONTROL_PLANE_ROLES:
        risks.append(Risk("control-plane", key, [c.path for c in changes]))
    return risks
