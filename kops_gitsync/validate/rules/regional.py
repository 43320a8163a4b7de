"""kops' rules for the smaller clouds (validation.go, linode.go) at store write.

On DigitalOcean and Linode (Akamai) kops creates the VPC itself from ``networkCIDR``, which
must then be a private range (RFC 1918, or fc00::/7 for IPv6: Go's ``IP.IsPrivate``), and
refuses ``networkID`` next to it (the two are exclusive there). On Linode the cluster name
is at most 32 characters (Linode's label limit). The Linode rules arrived with kops' Linode
support in 1.36 and follow the cluster's kops-version.txt; the DigitalOcean ones are older.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import ClusterView, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                  "192.168.0.0/16", "fc00::/7"))
NAMES = {"digitalocean": "DO", "linode": "Linode (Akamai)"}

CLOUD_NETWORK = rule(
    "cloud-network",
    "on DigitalOcean and Linode kops creates the network from a private networkCIDR and refuses"
    " networkID beside it; Linode cluster names are at most 32 characters",
    "use an RFC 1918 networkCIDR (or drop it and keep networkID); shorten a Linode cluster name",
    f"{_V}: validateNetworking; pkg/apis/kops/validation/linode.go: linodeValidateCluster")


def is_private(cidr: str) -> bool | None:
    """Go ``IP.IsPrivate`` of the network address, None when ``cidr`` does not parse."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    address = network.network_address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == p.version and address in p for p in PRIVATE)


def check_cloud_network(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or view.cloud not in NAMES:
        return
    if view.cloud == "linode" and not view.kops_at_least("1.36"):
        return
    name = as_str(view.metadata.get("name"))
    if view.cloud == "linode" and len(name) > 32:
        yield cluster_issue(CLOUD_NETWORK, ("metadata", "name"),
                            f'objectMeta.name: Invalid value: "{name}": cluster name must be no'
                            " more than 32 characters long")
    cidr = as_str(view.spec.get("networkCIDR"))
    if not cidr:
        return
    if is_private(cidr) is False:
        yield cluster_issue(CLOUD_NETWORK, ("spec", "networkCIDR"),
                            f'spec.networking.networkCIDR: Invalid value: "{cidr}": networkCIDR'
                            " must be within a private IP range")
    if as_str(view.spec.get("networkID")):
        yield cluster_issue(CLOUD_NETWORK, ("spec", "networkCIDR"),
                            f"spec.networking.networkCIDR: Forbidden: {NAMES[view.cloud]} doesn't"
                            " support specifying both NetworkID and NetworkCIDR")


CHECKS = (check_cloud_network,)
