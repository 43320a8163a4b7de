"""CIDR and networking rules: the address plan of the cluster.

Mirrors ``validateNetworking``, ``validateSubnets``, ``validateSubnet`` and ``parseCIDR`` in
kops' ``pkg/apis/kops/validation/validation.go`` (and the kube-dns check in legacy.go),
plus one check kops does not make: subnets overlapping each other, which the cloud
refuses only at ``kops update cluster --yes``, half-way through creating resources.
Defaults kops fills in later (e.g. ``serviceClusterIPRange``) are not guessed: only the
values written in the file are compared.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_V = "pkg/apis/kops/validation/validation.go"
NO_SUBNET_CLOUDS = ("digitalocean", "hetzner", "linode")
SUBNET_TYPES = ("Public", "Private", "Utility", "DualStack")
REJECTED_NETWORKING = ("weave", "canal", "romana", "lyftvpc", "classic", "external")
NETWORKING_OPTIONS = ("amazonvpc", "calico", "canal", "cilium", "classic", "cni", "external",
                      "flannel", "gce", "kindnet", "kopeio", "kubenet", "kuberouter", "lyftvpc",
                      "romana", "weave")  # v1alpha2 NetworkingSpec, kops 1.33-1.37

CIDR_INVALID = rule("cidr-invalid", "kops cannot use a CIDR it cannot parse",
                    "write an address range such as 172.20.32.0/19", f"{_V}: parseCIDR")
CIDR_HOST_BITS = rule("cidr-host-bits",
                      "a CIDR with host bits set is ambiguous; kops refuses it",
                      "use the network address kops suggests", f"{_V}: parseCIDR")
SUBNET_REQUIRED = rule("subnet-required", "kops needs at least one subnet to place instances",
                       "add a subnet under spec.subnets", f"{_V}: validateSubnets")
SUBNET_NAME_UNIQUE = rule("subnet-name-unique", "IGs refer to subnets by name",
                          "give every subnet its own name", f"{_V}: validateSubnets")
SUBNET_ID_ALL_OR_NONE = rule(
    "subnet-id-all-or-none",
    "kops either uses existing subnets (id) or creates them all; a mix is refused",
    "set id on every subnet or on none", f"{_V}: validateSubnets")
SUBNET_TYPE = rule("subnet-type", "kops knows only Public, Private, Utility and DualStack",
                   "set type to one of Public, Private, Utility, DualStack",
                   f"{_V}: validateSubnet")
SUBNET_OUTSIDE_NETWORK = rule(
    "subnet-outside-network",
    "a subnet must lie inside the VPC range (networkCIDR or additionalNetworkCIDRs)",
    "move the subnet cidr inside networkCIDR or add its range to additionalNetworkCIDRs",
    f"{_V}: validateSubnet")
SUBNET_OVERLAP = rule(
    "subnet-overlap",
    "two subnets sharing addresses are refused by the cloud at kops update --yes",
    "give each subnet its own, non-overlapping range",
    "none (kops does not check; the cloud API refuses it)")
SUBNET_OVERLAPS_POD = rule(
    "subnet-overlaps-pod-cidr",
    "node addresses and pod addresses must not collide (except with amazonvpc)",
    "move the subnet or podCIDR so they do not overlap", f"{_V}: validateSubnet")
SUBNET_OVERLAPS_SERVICE = rule(
    "subnet-overlaps-service-range",
    "node addresses and Service cluster IPs must not collide",
    "move the subnet or serviceClusterIPRange so they do not overlap",
    f"{_V}: validateSubnet")
NON_MASQ_REQUIRED = rule(
    "non-masquerade-cidr-required",
    "kops needs nonMasqueradeCIDR (the pod and service space) except on GCE",
    "set spec.nonMasqueradeCIDR, e.g. 100.64.0.0/10", f"{_V}: validateNetworking")
NETWORK_OVERLAPS_NON_MASQ = rule(
    "network-overlaps-non-masquerade",
    "the VPC range and the pod/service space must be disjoint or traffic is not NATed right",
    "move networkCIDR or nonMasqueradeCIDR so they do not overlap",
    f"{_V}: validateNetworking")
POD_CIDR_OUTSIDE = rule(
    "pod-cidr-outside-non-masquerade",
    "pod addresses must lie inside nonMasqueradeCIDR",
    "pick podCIDR (and kubeControllerManager.clusterCIDR) inside nonMasqueradeCIDR",
    f"{_V}: validateNetworking; legacy.go: ValidateCluster")
KUBE_DNS_SERVER_IP = rule(
    "kube-dns-server-ip",
    "the cluster DNS Service IP must come from serviceClusterIPRange",
    "pick kubeDNS.serverIP inside serviceClusterIPRange",
    "pkg/apis/kops/validation/legacy.go: ValidateCluster")
NETWORKING_ONE = rule(
    "networking-exactly-one",
    "kops refuses two networking providers at store write, and none at kops update cluster"
    " (no networking mode set)",
    "keep one entry under spec.networking (e.g. cni: {}, calico: {}, cilium: {})",
    f"{_V}: validateNetworking")
NETWORKING_UNSUPPORTED = rule(
    "networking-unsupported",
    "weave, canal, romana, lyftvpc, classic and external were removed from kops",
    "migrate to a supported provider (calico, cilium, cni, ...)",
    f"{_V}: validateNetworking")
SUBNET_EGRESS = rule(
    "subnet-egress",
    "egress (a NAT gateway, instance or transit gateway) routes Private, DualStack or"
    " IPv6-capable Public subnets only",
    "remove egress, make the subnet Private, or give the Public subnet an ipv6CIDR",
    f"{_V}: validateSubnet")
SUBNET_EGRESS_TYPE = rule(
    "subnet-egress-type",
    "kops routes egress only through nat-, eipalloc-, i-, tgw- resources or External",
    "set egress to a NAT gateway (nat-...), an Elastic IP (eipalloc-...), a NAT instance"
    " (i-...), a transit gateway (tgw-...) or External", f"{_V}: validateSubnet")
SUBNET_DUAL_STACK = rule(
    "subnet-dual-stack", "DualStack subnets exist only in IPv6 clusters",
    "use Private/Public, or make the cluster IPv6 (nonMasqueradeCIDR ::/0)",
    f"{_V}: validateSubnet")
NON_MASQ_IPV6 = rule(
    "non-masquerade-cidr-ipv6",
    "an IPv6 cluster masquerades nothing, so kops wants its nonMasqueradeCIDR to be ::/0",
    "set spec.nonMasqueradeCIDR: ::/0", f"{_V}: validateNetworking")
ACCESS_CIDR = rule(
    "access-cidr",
    "sshAccess, kubernetesApiAccess and nodePortAccess hold CIDRs (pl- prefix lists on AWS)",
    "write each entry as a CIDR such as 203.0.113.0/24", f"{_V}: validateClusterSpec")


def parse_cidr(value: Any, path: YamlPath, issues: list[Issue]) -> Network | None:
    """The network, or None with a finding; host bits get the corrected range as the fix."""
    if value is None or value == "":
        return None
    text = as_str(value)
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        fixed = ipaddress.ip_network(text, strict=False)
    except ValueError:
        issues.append(cluster_issue(CIDR_INVALID, path,
                                    f"{value!r} is not a CIDR; write e.g. 172.20.32.0/19"))
        return None
    issues.append(cluster_issue(CIDR_HOST_BITS, path,
                                f"{text} has host bits set; did you mean {fixed}?"))
    return fixed


def overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)


def inside(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def check_subnets(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    issues: list[Issue] = []
    spec = view.spec
    subnets = list(view.subnets())
    if not subnets and view.cloud not in NO_SUBNET_CLOUDS:
        issues.append(cluster_issue(SUBNET_REQUIRED, ("spec",),
                                    "no subnets; add at least one under spec.subnets",
                                    at_key=True))
    net = parse_cidr(spec.get("networkCIDR"), ("spec", "networkCIDR"), issues)
    extra = [parse_cidr(c, ("spec", "additionalNetworkCIDRs", i), issues)
             for i, c in enumerate(as_list(spec.get("additionalNetworkCIDRs")))]
    ranges = [r for r in (net, *extra) if r is not None]
    pod = parse_cidr(spec.get("podCIDR"), ("spec", "podCIDR"), issues)
    svc = parse_cidr(spec.get("serviceClusterIPRange"), ("spec", "serviceClusterIPRange"),
                     issues)
    seen_names: dict[str, int] = {}
    with_id = [i for i, s in subnets if s.get("id")]
    if with_id and len(with_id) != len(subnets):
        first = next(i for i, s in subnets if not s.get("id"))
        issues.append(cluster_issue(SUBNET_ID_ALL_OR_NONE, ("spec", "subnets", first),
                                    "some subnets set id and others do not; set id on every"
                                    " subnet or on none"))
    placed: list[tuple[int, str, Network]] = []
    for index, subnet in subnets:
        here: YamlPath = ("spec", "subnets", index)
        name = as_str(subnet.get("name"))
        if name in seen_names:
            issues.append(cluster_issue(SUBNET_NAME_UNIQUE, (*here, "name"),
                                        f"subnet name {name!r} is used twice; rename one"))
        seen_names.setdefault(name, index)
        kind = subnet.get("type")
        if kind is not None and kind not in SUBNET_TYPES:
            issues.append(cluster_issue(SUBNET_TYPE, (*here, "type"),
                                        f"subnet type {kind!r} is unknown; use one of"
                                        f" {', '.join(SUBNET_TYPES)}"))
        issues.extend(_ipv6_only_features(view, here, subnet))
        cidr = parse_cidr(subnet.get("cidr"), (*here, "cidr"), issues)
        if cidr is None:
            continue
        label = f"subnet {name or index} ({cidr})"
        if ranges and not any(inside(cidr, r) for r in ranges):
            within = " or ".join(str(r) for r in ranges)
            issues.append(cluster_issue(
                SUBNET_OUTSIDE_NETWORK, (*here, "cidr"),
                f"{label} is not inside {within}; move it inside networkCIDR or add its range"
                " to additionalNetworkCIDRs"))
        if pod is not None and overlaps(cidr, pod) and not view.uses_networking("amazonvpc"):
            issues.append(cluster_issue(SUBNET_OVERLAPS_POD, (*here, "cidr"),
                                        f"{label} overlaps podCIDR {pod}; move one of them"))
        if svc is not None and overlaps(cidr, svc):
            issues.append(cluster_issue(SUBNET_OVERLAPS_SERVICE, (*here, "cidr"),
                                        f"{label} overlaps serviceClusterIPRange {svc};"
                                        " move one of them"))
        for _, other_name, other in placed:
            if overlaps(cidr, other):
                issues.append(cluster_issue(SUBNET_OVERLAP, (*here, "cidr"),
                                            f"{label} overlaps subnet {other_name} ({other});"
                                            " give each subnet its own range"))
        placed.append((index, name or str(index), cidr))
    yield from issues


def is_ipv6_cluster(view: ClusterView) -> bool:
    """kops' ``IsIPv6Only``: nonMasqueradeCIDR parses as a CIDR whose address is not IPv4.

    Go's ``net.ParseCIDR`` accepts host bits, and ``To4()`` turns an IPv4-mapped address
    (``::ffff:a.b.c.d``) back into IPv4, so such a range does not make the cluster IPv6.
    """
    text = as_str(view.spec.get("nonMasqueradeCIDR"))
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return isinstance(network, ipaddress.IPv6Network) and \
        network.network_address.ipv4_mapped is None


EGRESS_TYPES = ("nat", "eipalloc", "i", "tgw", "External")


def _ipv6_only_features(view: ClusterView, here: YamlPath, subnet: dict[str, Any]) -> list[Issue]:
    """DualStack needs an IPv6 cluster; egress needs a known target and a routable subnet.

    kops reads the egress kind as the text before the first ``-`` (``nat-0123`` is a NAT
    gateway, ``External`` leaves routing to the user) and allows it on Private and
    DualStack subnets, and on a Public subnet that has its own ipv6CIDR.
    """
    kind = subnet.get("type")
    found = []
    if kind == "DualStack" and not is_ipv6_cluster(view):
        found.append(cluster_issue(SUBNET_DUAL_STACK, (*here, "type"),
                                   "DualStack subnets need an IPv6 cluster; use Private"))
    egress = subnet.get("egress")
    if not egress:
        return found
    text = as_str(egress)
    if text.split("-")[0] not in EGRESS_TYPES:
        found.append(cluster_issue(SUBNET_EGRESS_TYPE, (*here, "egress"),
                                   f"egress {egress!r} is not a NAT gateway (nat-), Elastic IP"
                                   " (eipalloc-), NAT instance (i-), transit gateway (tgw-) or"
                                   " External"))
    public_ipv6 = kind == "Public" and bool(subnet.get("ipv6CIDR"))
    if text != "External" and kind not in ("Private", "DualStack") and not public_ipv6:
        found.append(cluster_issue(SUBNET_EGRESS, (*here, "egress"),
                                   f"egress on a subnet of type {kind!r} is not allowed;"
                                   " remove it, make the subnet Private, or give a Public"
                                   " subnet an ipv6CIDR"))
    return found


def check_network_ranges(view: ClusterView) -> Iterator[Issue]:
    """networkCIDR vs nonMasqueradeCIDR, podCIDR and clusterCIDR inside it, kube-dns IP."""
    if view.cluster is None:
        return
    spec = view.spec
    issues: list[Issue] = []
    scratch: list[Issue] = []  # parse errors are reported once, by check_subnets
    raw_non_masq = spec.get("nonMasqueradeCIDR")
    non_masq = parse_cidr(raw_non_masq, ("spec", "nonMasqueradeCIDR"), issues)
    if not raw_non_masq and view.cloud != "gce":
        issues.append(cluster_issue(NON_MASQ_REQUIRED, ("spec",),
                                    "spec.nonMasqueradeCIDR is missing; set it, e.g."
                                    " 100.64.0.0/10", at_key=True))
    if non_masq is not None and is_ipv6_cluster(view) and str(raw_non_masq) != "::/0":
        issues.append(cluster_issue(NON_MASQ_IPV6, ("spec", "nonMasqueradeCIDR"),
                                    f"nonMasqueradeCIDR {raw_non_masq} is IPv6; IPv6 clusters"
                                    " must use ::/0"))
    net = parse_cidr(spec.get("networkCIDR"), ("spec", "networkCIDR"), scratch)
    cilium_eni = as_dict(as_dict(spec.get("networking")).get("cilium")).get("ipam") == "eni"
    exempt = view.uses_networking("amazonvpc") or cilium_eni
    if non_masq is not None and net is not None and overlaps(net, non_masq) and not exempt:
        issues.append(cluster_issue(
            NETWORK_OVERLAPS_NON_MASQ, ("spec", "networkCIDR"),
            f"networkCIDR {net} overlaps nonMasqueradeCIDR {non_masq}; move the VPC range"
            " (e.g. 172.20.0.0/16) or the pod/service space"))
    pod = parse_cidr(spec.get("podCIDR"), ("spec", "podCIDR"), scratch)
    kcm_path: YamlPath = ("spec", "kubeControllerManager", "clusterCIDR")
    cluster_cidr = parse_cidr(as_dict(spec.get("kubeControllerManager")).get("clusterCIDR"),
                              kcm_path, issues)
    for value, path, label in ((pod, ("spec", "podCIDR"), "podCIDR"),
                               (cluster_cidr, kcm_path, "kubeControllerManager.clusterCIDR")):
        if value is not None and non_masq is not None and not inside(value, non_masq):
            issues.append(cluster_issue(POD_CIDR_OUTSIDE, path,
                                        f"{label} {value} is not inside nonMasqueradeCIDR"
                                        f" {non_masq}; pick a range inside it"))
    svc = parse_cidr(spec.get("serviceClusterIPRange"), ("spec", "serviceClusterIPRange"),
                     scratch)
    server_ip = as_dict(spec.get("kubeDNS")).get("serverIP")
    if svc is not None and server_ip:
        try:
            address = ipaddress.ip_address(as_str(server_ip))
            ok = address.version == svc.version and address in svc
        except ValueError:
            ok = False
        if not ok:
            issues.append(cluster_issue(KUBE_DNS_SERVER_IP, ("spec", "kubeDNS", "serverIP"),
                                        f"kubeDNS.serverIP {server_ip} is not inside"
                                        f" serviceClusterIPRange {svc}; pick an address in it"))
    yield from issues


def check_networking(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or "networking" not in view.spec:
        return
    # an unknown key is dropped by kops (the schema warns about it): it chooses nothing
    chosen = [name for name in view.networking() if name in NETWORKING_OPTIONS]
    rejected = [name for name in chosen if name in REJECTED_NETWORKING]
    for name in rejected:
        yield cluster_issue(NETWORKING_UNSUPPORTED, ("spec", "networking", name),
                            f"networking {name!r} is no longer supported by kops; migrate to"
                            " calico, cilium or cni")
    if len(chosen) != 1 and not rejected:
        listed = ", ".join(chosen) or "none"
        yield cluster_issue(NETWORKING_ONE, ("spec", "networking"),
                            f"spec.networking sets {listed}; keep exactly one provider")


# v1alpha2 field -> the path kops names (it validates its internal type)
ACCESS_FIELDS = {"sshAccess": "spec.sshAccess", "kubernetesApiAccess": "spec.kubernetesAPIAccess",
                 "nodePortAccess": "spec.nodePortAccess"}


def kops_cidr_problem(text: str) -> str | None:
    """kops' ``parseCIDR`` verdict on ``text`` (Go's net.ParseCIDR), in kops' words; None if ok."""
    detail = "Could not be parsed as a CIDR"
    address_text, slash, prefix = text.partition("/")
    try:
        address = ipaddress.ip_address(address_text)
        network = ipaddress.ip_network(text, strict=False) if slash else None
    except ValueError:
        return detail
    if network is None:
        suffix = 32 if address.version == 4 and ":" not in text else 64
        return f'{detail} (did you mean "{text}/{suffix}")'
    if not prefix.isdigit():  # Go takes only a prefix length, not a netmask
        return detail
    if address != network.network_address:
        return (f'Network contains bits outside prefix (did you mean'
                f' "{network.network_address}/{network.prefixlen}")')
    return None


def check_access(view: ClusterView) -> Iterator[Issue]:
    """kops' ``validateClusterSpec`` on sshAccess, API access and nodePortAccess (store write)."""
    if view.cluster is None:
        return
    for field, kops_field in ACCESS_FIELDS.items():
        for index, entry in enumerate(as_list(view.spec.get(field))):
            text = as_str(entry)
            where = f"{kops_field}[{index}]: Invalid value: {entry!r}"
            if text.startswith("pl-"):
                if view.cloud != "aws":
                    yield cluster_issue(ACCESS_CIDR, ("spec", field, index),
                                        f"{where}: Prefix List ID only supported for AWS")
                continue
            problem = kops_cidr_problem(text)
            if problem:
                yield cluster_issue(ACCESS_CIDR, ("spec", field, index), f"{where}: {problem}")


CHECKS = (check_subnets, check_network_ranges, check_networking, check_access)
