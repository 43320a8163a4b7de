"""Name rules: the cluster name, the folder it lives in, IG names and their cluster label.

kops finds a cluster by its folder (``<state>/<name>/config``) and an IG by its file name,
but trusts ``metadata.name`` inside the object. When they disagree, ``kops replace`` writes
a *second* cluster at the name in the file, and an IG whose file name differs from its
name cannot be found under either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    as_str,
    cluster_issue,
    ig_issue,
)
from kops_gitsync.validate.rules.catalog import rule

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
CLUSTER_LABEL = "kops.k8s.io/cluster"
_SOURCE = "pkg/apis/kops/validation/validation.go: newValidateCluster"

NAME_REQUIRED = rule(
    "cluster-name-required",
    "kops needs metadata.name to find and route the cluster",
    "set metadata.name to the cluster's DNS name",
    _SOURCE,
)
NAME_INVALID = rule(
    "cluster-name-invalid",
    "the cluster name becomes DNS names and bucket paths, so it must be a DNS-1123 subdomain",
    "use lower-case letters, digits, '-' and '.' only (e.g. my-cluster.example.com)",
    f"{_SOURCE} (IsDNS1123Subdomain)",
)
NAME_NEEDS_DOT = rule(
    "cluster-name-needs-dot",
    "with DNS enabled the cluster name is a DNS zone suffix and needs a dot",
    "use a fully qualified name, or set spec.topology.dns.type: None",
    _SOURCE,
)
NAME_GOSSIP = rule(
    "cluster-name-gossip",
    "a *.k8s.local name with DNS not None is legacy gossip, which Linode and metal lack"
    " (AWS, Azure, DigitalOcean, GCE, Hetzner, OpenStack and Scaleway still have it)",
    "set spec.topology.dns.type: None or use a real DNS name",
    "pkg/apis/kops/validation/validation.go: validateCloudDNSTopology (UsesLegacyGossip)",
)
GOSSIP_CLOUDS = ("aws", "azure", "digitalocean", "gce", "hetzner", "openstack", "scaleway")
NAME_MISMATCH = rule(
    "cluster-name-mismatch",
    "kops loads the cluster by folder name; a different metadata.name breaks every command"
    " and makes kops replace write a second cluster",
    "make metadata.name equal the folder name (or move the folder)",
    "cmd/kops/root.go: GetCluster; pkg/client/simple/vfsclientset/cluster.go: find",
)
IG_NAME_REQUIRED = rule(
    "ig-name-required",
    "an InstanceGroup needs metadata.name",
    "set metadata.name to the file name",
    "pkg/apis/kops/validation/instancegroup.go: ValidateInstanceGroup",
)
IG_NAME_INVALID = rule(
    "ig-name-invalid",
    "kops stores any IG name, but kops-controller refuses to serve node configuration to an"
    " IG whose name is not a DNS-1123 subdomain, so its nodes never join",
    "rename the IG (file and metadata.name) to lower-case letters, digits, '-' and '.'",
    "pkg/apis/kops/validation/instancegroup.go: ValidateInstanceGroupName"
    " (cmd/kops-controller/pkg/server/node_config.go)",
)
IG_NAME_MISMATCH = rule(
    "ig-name-mismatch",
    "kops stores an IG at instancegroup/<metadata.name>; a different file name is an IG kops"
    " never reads back under that name",
    "rename the file to metadata.name or fix metadata.name",
    "pkg/client/simple/vfsclientset/instancegroup.go",
)
IG_CLUSTER_LABEL = rule(
    "ig-cluster-label",
    "kops create -f / replace route an IG by its kops.k8s.io/cluster label",
    "set metadata.labels[kops.k8s.io/cluster] to the cluster name",
    "cmd/kops/create.go, replace.go; pkg/client/simple/vfsclientset/instancegroup.go",
)


def is_gossip_name(name: str) -> bool:
    """kops' ``dns.IsGossipClusterName``: legacy gossip when DNS is not None."""
    return name.removesuffix(".").endswith(".k8s.local")


def check_cluster_name(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    name = view.metadata.get("name")
    if not isinstance(name, str) or not name:
        yield cluster_issue(NAME_REQUIRED, ("metadata",), "metadata.name is missing; set it to"
                            f" {view.name!r}")
        return
    path = ("metadata", "name")
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        suggestion = re.sub(r"[^a-z0-9.-]", "-", name.lower()).strip("-.")
        yield cluster_issue(
            NAME_INVALID,
            path,
            f"cluster name {name!r} is not a DNS-1123 subdomain (lower-case letters, digits,"
            f" '-', '.'); rename it, e.g. {suggestion!r}",
        )
    elif "." not in name and view.dns_type != "None":
        yield cluster_issue(
            NAME_NEEDS_DOT,
            path,
            f"cluster name {name!r} has no dot while DNS is {view.dns_type}; use a fully"
            " qualified name or set spec.topology.dns.type: None",
        )
    if is_gossip_name(name) and view.dns_type != "None" and view.cloud not in GOSSIP_CLOUDS:
        yield cluster_issue(
            NAME_GOSSIP,
            path,
            f"gossip cluster name {name!r} on {view.cloud or 'this cloud'}, which has no"
            " gossip DNS; set spec.topology.dns.type: None or use a real DNS name",
        )
    if name != view.name:
        yield cluster_issue(
            NAME_MISMATCH,
            path,
            f"metadata.name {name!r} differs from the folder name {view.name!r}; make them"
            " equal (kops replace would write a second cluster)",
        )


def check_ig_names(view: ClusterView) -> Iterator[Issue]:
    for file_name, ig in sorted(view.igs.items()):
        metadata = as_dict(ig.get("metadata"))
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            yield ig_issue(file_name, IG_NAME_REQUIRED, ("metadata",),
                           f"metadata.name is missing; set it to {file_name!r}")
        elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
            yield ig_issue(file_name, IG_NAME_INVALID, ("metadata", "name"),
                           f"instance group name {name!r} is not a DNS-1123 subdomain;"
                           " kops-controller will refuse its nodes: rename it")
        elif name != file_name:
            yield ig_issue(
                file_name,
                IG_NAME_MISMATCH,
                ("metadata", "name"),
                f"metadata.name {name!r} differs from the file name {file_name!r}; rename the"
                " file or fix the name",
            )
        labels = metadata.get("labels")
        label = as_dict(labels).get(CLUSTER_LABEL)
        if label is None:
            yield ig_issue(
                file_name,
                IG_CLUSTER_LABEL,
                ("metadata", "labels") if labels is not None else ("metadata",),
                f"label {CLUSTER_LABEL} is missing; add {CLUSTER_LABEL}: {view.name}",
                severity="warning",
            )
        elif as_str(label) != view.name:
            yield ig_issue(
                file_name,
                IG_CLUSTER_LABEL,
                ("metadata", "labels", CLUSTER_LABEL),
                f"label {CLUSTER_LABEL} is {label!r} but the IG is in cluster {view.name!r};"
                f" set it to {view.name}",
            )


CHECKS = (check_cluster_name, check_ig_names)
