"""etcd rules: quorum-safe member counts, known cluster names, members on real control planes.

etcd mistakes are the expensive ones: an even member count loses quorum with one failure,
and a member pointing at a missing instance group leaves etcd-manager waiting for a peer
that never starts. kops refuses some of these when storing the Cluster and the
cross-object ones only at ``kops update cluster``; the hook catches all at commit time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_list,
    as_str,
    cluster_issue,
    ig_issue,
    ig_name,
    is_control_plane,
)
from kops_gitsync.validate.rules.catalog import rule
from kops_gitsync.validate.rules.version import parse_tolerant

_V = "pkg/apis/kops/validation/validation.go"
_IG = "pkg/apis/kops/validation/instancegroup.go"
ETCD_NAMES = ("main", "events", "cilium", "leases")

ETCD_REQUIRED = rule("etcd-required", "the control plane needs at least the main etcd cluster",
                     "add spec.etcdClusters with main and events", f"{_V}: validateEtcdClusterSpec")
ETCD_NAME = rule("etcd-name", "kops knows only the etcd clusters main, events, cilium and leases",
                 "name the etcd cluster main, events, cilium or leases",
                 f"{_V}: validateEtcdClusterSpec")
ETCD_NAME_DUPLICATE = rule(
    "etcd-name-duplicate", "two etcd clusters with one name would share one backup store",
    "keep one etcd cluster per name", f"{_V}: validateEtcdBackupStore")
ETCD_MEMBER_COUNT = rule(
    "etcd-member-count",
    "etcd needs an odd, non-zero member count to keep quorum through a failure",
    "use 1, 3 or 5 members (one per control-plane IG)", f"{_V}: validateEtcdClusterSpec")
ETCD_MEMBER_FIELDS = rule("etcd-member-fields", "every etcd member needs a name and an IG",
                          "set name and instanceGroup on the member",
                          f"{_V}: validateEtcdMemberSpec")
ETCD_MEMBER_NAME_DUPLICATE = rule(
    "etcd-member-name-duplicate", "etcd member names identify peers and volumes",
    "give every member of an etcd cluster its own name",
    "upup/pkg/fi/cloudup/populate_cluster_spec.go")
ETCD_MEMBER_UNKNOWN_IG = rule(
    "etcd-member-unknown-ig",
    "a member on a missing IG leaves etcd waiting for a peer that never starts",
    "point instanceGroup at an existing control-plane IG (or create that IG)",
    f"{_IG}: ValidateControlPlaneInstanceGroup")
ETCD_MEMBER_NOT_CONTROL_PLANE = rule(
    "etcd-member-not-control-plane", "etcd runs only on control-plane instances",
    "point instanceGroup at a control-plane IG (role Master/ControlPlane)",
    f"{_IG}: ValidateControlPlaneInstanceGroup")
ETCD_CONTROL_PLANE_MISSING = rule(
    "etcd-control-plane-missing",
    "every control-plane IG must host a member of every etcd cluster",
    "add a member for the IG to each etcd cluster, or delete the IG",
    f"{_IG}: ValidateControlPlaneInstanceGroup")
ETCD_VERSION = rule("etcd-version", "kops runs etcd 3, the same version for every etcd cluster",
                    "set one 3.x version on all etcd clusters (or leave it to kops)",
                    f"{_V}: validateEtcdVersion, validateEtcdStorage")


def check_etcd_clusters(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    clusters = list(view.etcd_clusters())
    if not clusters:
        yield cluster_issue(ETCD_REQUIRED, ("spec",), "spec.etcdClusters is missing; add main"
                            " and events", at_key=True)
        return
    seen: set[str] = set()
    versions: dict[str, int] = {}
    for index, etcd in clusters:
        here = ("spec", "etcdClusters", index)
        name = as_str(etcd.get("name"))
        if name not in ETCD_NAMES:
            yield cluster_issue(ETCD_NAME, (*here, "name"),
                                f"etcd cluster name {etcd.get('name')!r} is not one of"
                                f" {', '.join(ETCD_NAMES)}")
        if name in seen:
            yield cluster_issue(ETCD_NAME_DUPLICATE, (*here, "name"),
                                f"etcd cluster {name!r} is defined twice; keep one")
        seen.add(name)
        yield from _members(here, name, as_list(etcd.get("etcdMembers")))
        version = etcd.get("version")
        if version:
            parsed = parse_tolerant(as_str(version))
            if parsed is None or parsed[0] != 3:
                yield cluster_issue(ETCD_VERSION, (*here, "version"),
                                    f"etcd version {version!r} is not 3.x; use 3.x or remove it")
            versions.setdefault(as_str(version), index)
    if len(versions) > 1:
        last = max(versions.values())
        yield cluster_issue(ETCD_VERSION, ("spec", "etcdClusters", last, "version"),
                            f"etcd clusters use different versions ({', '.join(versions)});"
                            " use one version for all")


def _members(here: tuple[str | int, ...], name: str, members: list[Any]) -> Iterator[Issue]:
    count = len(members)
    if count == 0 or count % 2 == 0:
        target = ("etcdMembers",) if count else ()
        yield cluster_issue(ETCD_MEMBER_COUNT, (*here, *target),
                            f"etcd cluster {name!r} has {count} members; use an odd number"
                            f" (e.g. {max(1, count - 1) if count else 1} or {count + 1})")
    names: set[str] = set()
    for position, member in enumerate(members):
        at = (*here, "etcdMembers", position)
        member_name = as_str(member.get("name")) if isinstance(member, dict) else ""
        group = as_str(member.get("instanceGroup")) if isinstance(member, dict) else ""
        if not member_name or not group:
            missing = " and ".join(f for f, v in (("name", member_name),
                                                  ("instanceGroup", group)) if not v)
            yield cluster_issue(ETCD_MEMBER_FIELDS, at,
                                f"etcd member of {name!r} has no {missing}; set it")
        if member_name and member_name in names:
            yield cluster_issue(ETCD_MEMBER_NAME_DUPLICATE, (*at, "name"),
                                f"etcd member name {member_name!r} is used twice in {name!r};"
                                " rename one")
        names.add(member_name)


def check_etcd_instance_groups(view: ClusterView) -> Iterator[Issue]:
    """Cross-object: members on existing control-plane IGs, and every CP IG in every cluster."""
    if view.cluster is None or not view.igs or not view.all_igs_readable:
        return
    by_name = {ig_name(file, ig): (file, ig) for file, ig in view.igs.items()}
    for index, etcd in view.etcd_clusters():
        name = as_str(etcd.get("name"))
        hosted: set[str] = set()
        for position, member in enumerate(as_list(etcd.get("etcdMembers"))):
            group = as_str(member.get("instanceGroup")) if isinstance(member, dict) else ""
            if not group:
                continue
            hosted.add(group)
            at = ("spec", "etcdClusters", index, "etcdMembers", position, "instanceGroup")
            if group not in by_name:
                known = ", ".join(view.control_plane_igs()) or "none"
                yield cluster_issue(ETCD_MEMBER_UNKNOWN_IG, at,
                                    f"etcd {name!r} member points at instance group {group!r},"
                                    f" which does not exist (control-plane IGs: {known})")
            elif not is_control_plane(by_name[group][1]):
                yield cluster_issue(ETCD_MEMBER_NOT_CONTROL_PLANE, at,
                                    f"etcd {name!r} member points at {group!r}, which is not a"
                                    " control-plane IG")
        for file_name, ig in sorted(view.igs.items()):
            if is_control_plane(ig) and ig_name(file_name, ig) not in hosted:
                yield ig_issue(file_name, ETCD_CONTROL_PLANE_MISSING, ("spec", "role"),
                               f"control-plane IG {ig_name(file_name, ig)!r} hosts no member of"
                               f" etcd cluster {name!r}; add one to spec.etcdClusters")


CHECKS = (check_etcd_clusters, check_etcd_instance_groups)
