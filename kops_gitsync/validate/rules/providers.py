"""Cross-field rules of kops' Cilium and Calico checks (validation.go) at store write.

``validateNetworkingCilium``: a ``version`` must be ``v1.18.x`` (the only Cilium kops 1.34
to 1.37 install) and then Hubble needs cert-manager; NodePort needs kube-proxy off;
kvstore identities and ``etcdManaged`` need a ``cilium`` etcd cluster; encryption options
need each other and IPv4; ENI IPAM is AWS and IPv4 only; the L7 proxy needs iptables rules.
``validateNetworkingCalico``: encapsulation modes that fit the address family and the cloud,
``ipipMode``/``vxlanMode`` values that agree with ``encapsulationMode``, the auto-detection
method forms calico/node accepts, no negative Typha replicas, no WireGuard on IPv6, and
BPF mode with kube-proxy off. Rules kops added after 1.34 follow kops-version.txt: Calico
BPF/kube-proxy and Cilium bpfLBSockHostNSOnly (1.36), Calico on Azure needing vxlan (1.35).
Flannel, kubenet, kopeio, kube-router, amazon-vpc and GCP networking refuse IPv6;
kube-router needs kube-proxy off, amazon-vpc AWS; GCP networking (v1alpha2 ``networking.gce``) any
cloud but GCE, kindnet a nonMasqueradeCIDRs entry that is not a prefix. The closed value
sets are in enums.py. Interface patterns are compiled with Python's ``re``, not Go's RE2:
a pattern only RE2 refuses (a lookahead, a backreference) passes here. Messages carry
kops' path and words.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import (
    ClusterView,
    Requirement,
    Test,
    always,
    as_dict,
    as_str,
    cluster_issue,
    field_on,
    go_cidr,
    spec_on,
    unmet,
    value_at,
)
from kops_gitsync.validate.rules.catalog import rule
from kops_gitsync.validate.rules.network import is_ipv6_cluster

_V = "pkg/apis/kops/validation/validation.go"
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
_LIST_SPLIT = re.compile(r"\s*,\s*")
CALICO_MODES = ("Always", "CrossSubnet", "Never")

NETWORKING_PROVIDER = rule(
    "networking-provider",
    "kops refuses Cilium and Calico settings that contradict each other, the cluster's address"
    " family, its cloud or kube-proxy",
    "apply the change the message names",
    f"{_V}: validateNetworkingCilium, validateNetworkingCalico,"
    " validateCalicoAutoDetectionMethod")


def _on(value: Any) -> bool:
    return value is True


def _kube_proxy_on(spec: dict[str, Any]) -> bool:
    proxy = spec.get("kubeProxy")
    return isinstance(proxy, dict) and proxy.get("enabled") is not False


Judge = Callable[[ClusterView, dict[str, Any]], Iterator[tuple[str, str]]]


def _needs(table: tuple[Requirement, ...]) -> Judge:
    """A judge of (field, kops' words) pairs from a table of requirements."""
    return lambda view, block: ((row.path, row.message) for row in unmet(view, block, table))


def _kube_proxy_off(view: ClusterView, _: dict[str, Any]) -> bool:
    return not _kube_proxy_on(view.spec)


def _ipv4(view: ClusterView, _: dict[str, Any]) -> bool:
    return not is_ipv6_cluster(view)


def _on_cloud(cloud: str) -> Test:
    return lambda view, _: view.cloud == cloud


def _eni(_: ClusterView, cilium: dict[str, Any]) -> bool:
    return cilium.get("ipam") == "eni"


def _hubble(_: ClusterView, cilium: dict[str, Any]) -> bool:
    """kops looks at Hubble only when a Cilium version is given."""
    return bool(as_str(cilium.get("version"))) and value_at(cilium, "hubble.enabled") is True


def _whole(path: str, needs: Test, words: str) -> Requirement:
    """A requirement of a provider as such: its block being there is the setting."""
    return Requirement(path, needs, f"Forbidden: {words}", when=always)


# path: from the provider's block, or "@" and kops' path for a field outside it
CILIUM_NEEDS = (
    Requirement("hubble.enabled", spec_on("certManager.enabled"),
                "Forbidden: Hubble requires that cert manager is enabled",
                when=_hubble),
    Requirement("@spec.kubeProxy.enabled", _kube_proxy_off,
                "Forbidden: When Cilium NodePort is enabled, kubeProxy must be disabled",
                when=field_on("enableNodePort")),
    Requirement("identityAllocationMode", field_on("etcdManaged"),
                "Forbidden: Cilium requires managed etcd to allocate identities on kvstore mode",
                when=lambda _, c: c.get("identityAllocationMode") == "kvstore"),
    Requirement("bpfLBSockHostNSOnly", field_on("bpfLBSock"),
                "Forbidden: bpfLBSockHostNSOnly requires bpfLBSock to be enabled", since="1.36"),
    Requirement("enableEncryption", _ipv4,
                "Forbidden: encryption is not supported on IPv6 clusters"),
    Requirement("encryptionType", field_on("enableEncryption"),
                "Forbidden: encryptionType requires enableEncryption",
                when=lambda _, c: bool(c.get("encryptionType"))),
    Requirement("enableL7Proxy", lambda _, c: c.get("installIptablesRules") is not False,
                "Forbidden: Cilium L7 Proxy requires installIptablesRules."),
    Requirement("ipam", _on_cloud("aws"), "Forbidden: Cilum ENI IPAM is supported only in AWS",
                when=_eni),
    Requirement("ipam", _ipv4, "Forbidden: Cilium ENI IPAM does not support IPv6", when=_eni),
    Requirement("@spec.etcdClusters",
                lambda view, _: any(e.get("name") == "cilium" for _, e in view.etcd_clusters()),
                "Required value: Cilium with managed etcd requires a dedicated etcd cluster",
                when=field_on("etcdManaged")),
)
# the providers kops judges as a whole (v1alpha2 gce, kuberouter, amazonvpc are kops' gcp,
# kubeRouter, amazonVPC)
PROVIDER_NEEDS = {
    "flannel": (_whole("", _ipv4, "Flannel does not support IPv6"),),
    "gce": (_whole("@spec.networking.gcp", _on_cloud("gce"),
                   "GCP networking is supported only when on GCP"),
            _whole("@spec.networking.gcp", _ipv4, "GCP networking does not support IPv6")),
    "kubenet": (_whole("", _ipv4, "Kubenet does not support IPv6"),),
    "kopeio": (_whole("", _ipv4, "Kopeio does not support IPv6"),),
    "kuberouter": (_whole("@spec.kubeProxy.enabled", _kube_proxy_off,
                          "kube-router requires kubeProxy to be disabled"),
                   _whole("@spec.networking.kubeRouter", _ipv4,
                          "kube-router does not support IPv6")),
    "amazonvpc": (_whole("@spec.networking.amazonVPC", _on_cloud("aws"),
                         "amazon-vpc-routed-eni networking is supported only in AWS"),
                  _whole("@spec.networking.amazonVPC", _ipv4,
                         "amazon-vpc-routed-eni networking does not support IPv6")),
}


def _cilium(view: ClusterView, cilium: dict[str, Any]) -> Iterator[tuple[str, str]]:
    version = as_str(cilium.get("version"))
    if version:
        if not version.startswith("v"):  # kops stops checking Cilium here
            yield "version", (f'Invalid value: "{version}": Cilium version must be prefixed'
                              " with 'v'")
            return
        match = _SEMVER.fullmatch(version[1:])
        if match is None:
            yield "version", f'Invalid value: "{version}": Could not parse as semantic version'
        if match is None or match.group(2) != "18":
            yield "version", f'Invalid value: "{version}": Only version 1.18 is supported'
    yield from _needs(CILIUM_NEEDS)(view, cilium)
    ingress = as_dict(cilium.get("ingress"))
    mode = ingress.get("defaultLoadBalancerMode")
    if _on(ingress.get("enabled")) and mode and mode not in ("shared", "dedicated"):
        yield "ingress.defaultLoadBalancerMode", (f'Unsupported value: "{mode}": supported'
                                                  ' values: "shared", "dedicated"')


def detection_problem(method: str, ipv4: bool) -> str | None:
    """kops' ``validateCalicoAutoDetectionMethod``: why calico/node would refuse ``method``."""
    parts = method.split("=")
    if len(parts) > 2:
        return "malformed autodetection method"
    kind, value = parts[0], (parts[1] if len(parts) == 2 else "")
    if kind == "first-found":
        return None
    if kind == "can-reach":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        if ipv4:
            mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped
            ok = isinstance(address, ipaddress.IPv4Address) or bool(mapped)
            return None if ok else "must be a valid IPv4 address"
        ok = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None
        return None if ok else "must be a valid IPv6 address"
    if kind in ("interface", "skip-interface"):
        regexes = _LIST_SPLIT.split(value)
        if not regexes or regexes[0] == "":
            return (f"'{kind}=' must be followed by a comma separated list of interface regular"
                    " expressions")
        for pattern in regexes:
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:
                return f"regexp {pattern} does not compile: {exc}"
        return None
    return "unsupported autodetection method"


def _calico(view: ClusterView, calico: dict[str, Any]) -> Iterator[tuple[str, str]]:
    spec, ipv6 = view.spec, is_ipv6_cluster(view)
    check = calico.get("awsSrcDstCheck")
    if check and ipv6 and check != "DoNothing":
        yield "awsSrcDstCheck", ('Forbidden: awsSrcDstCheck may only be "DoNothing" for IPv6'
                                 " clusters")
    if view.kops_at_least("1.36") and _on(calico.get("bpfEnabled")) and _kube_proxy_on(spec):
        yield "@spec.kubeProxy.enabled", ("Forbidden: calico in BPF mode"
                                          " (spec.networking.calico.bpfEnabled=true) requires"
                                          " kubeProxy to be disabled")
    encapsulation = as_str(calico.get("encapsulationMode"))
    if encapsulation:
        if encapsulation != "none" and ipv6:
            yield "encapsulationMode", 'Forbidden: IPv6 requires an encapsulationMode of "none"'
        elif encapsulation == "none" and not ipv6:
            yield "encapsulationMode", ('Forbidden: encapsulationMode "none" is only supported'
                                        " for IPv6 clusters")
        if encapsulation != "vxlan" and view.cloud == "azure" and view.kops_at_least("1.35"):
            yield "encapsulationMode", 'Forbidden: Azure requires an encapsulationMode of "vxlan"'
    for field, needs, words in (("ipipMode", "ipip", "IP-in-IP"), ("vxlanMode", "vxlan", "VXLAN")):
        mode = as_str(calico.get(field))
        if not mode:
            continue
        if mode not in CALICO_MODES:
            listed = ", ".join(f'"{m}"' for m in CALICO_MODES)
            yield field, f'Unsupported value: "{mode}": supported values: {listed}'
        if mode != "Never" and encapsulation and encapsulation != needs:
            yield field, (f'Forbidden: {words} encapsulation requires use of Calico\'s "{needs}"'
                          " encapsulation mode")
    for field, ipv4 in (("ipv4AutoDetectionMethod", True), ("ipv6AutoDetectionMethod", False)):
        method = as_str(calico.get(field))
        if method and (problem := detection_problem(method, ipv4)):
            yield field, f'Invalid value: "{method}": {problem}'
    replicas = calico.get("typhaReplicas")
    if isinstance(replicas, int) and replicas < 0:
        yield "typhaReplicas", (f"Invalid value: {replicas}: Unable to set number of Typha"
                                f" replicas to less than 0, you've specified {replicas}")
    if _on(calico.get("wireguardEnabled")) and ipv6:
        yield "wireguardEnabled", "Forbidden: WireGuard is not supported on IPv6 clusters"




def _kindnet(view: ClusterView, kindnet: dict[str, Any]) -> Iterator[tuple[str, str]]:
    masquerade = as_dict(kindnet.get("masquerade"))
    if not _on(masquerade.get("enabled")):
        return
    for cidr in masquerade.get("nonMasqueradeCIDRs") or []:
        if cidr and not go_cidr(str(cidr), netip=True):
            yield "", f'Invalid value: "{cidr}": netip.ParsePrefix("{cidr}"): not a prefix'






def check_networking_providers(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    networking = as_dict(view.spec.get("networking"))
    judges: dict[str, Judge] = {
        "cilium": _cilium, "calico": _calico, "kindnet": _kindnet,
        **{name: _needs(table) for name, table in PROVIDER_NEEDS.items()}}
    for name in ("cilium", "calico", "flannel", "gce", "kindnet", "kubenet", "kopeio",
                 "kuberouter", "amazonvpc"):  # a stable order for several providers' findings
        judge, settings = judges[name], networking.get(name)
        if not isinstance(settings, dict):
            continue
        for field, words in judge(view, settings):
            if field.startswith("@"):  # kops names a field outside the provider's block
                shown = field[1:]
                path: YamlPath = (("spec", "networking", name)
                                  if shown.startswith("spec.networking.")
                                  else tuple(shown.split(".")))
            else:
                shown = f"spec.networking.{name}" + (f".{field}" if field else "")
                path = ("spec", "networking", name, *(field.split(".") if field else ()))
            yield cluster_issue(NETWORKING_PROVIDER, path, f"{shown}: {words}", at_key=True)


CHECKS = (check_networking_providers,)
