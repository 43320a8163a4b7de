"""kops' Cilium and Calico rules as data: the cases of kops' own tests (kops 1.37.0-alpha.1).

validation_test.go Test_Validate_Cilium and Test_Validate_Calico call
validateNetworkingCilium / validateNetworkingCalico, which kops runs at store write. Their
``testErrors`` asserts that each expected error is among kops' (and, with none expected,
that there is none), so the comparison here is the same: kops' fields are a subset of ours,
or both are empty. The closed value sets are judged by ``enum-value``, the rest by
``networking-provider``. Each case replaces the fixture cluster's networking.
"""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate import Finding
from tests.unit.validate_helpers import cluster_docs, findings

KOPS = "v1.37.0-alpha.1"
RULES = {"networking-provider", "enum-value"}
CILIUM = "spec.networking.cilium"
CALICO = "spec.networking.calico"


def _refused(docs: dict[str, Any], store: str) -> set[str]:
    found: list[Finding] = [f for f in findings(docs, store)
                            if f.severity == "error" and f.rule in RULES]
    return {f.message.split(": ", 1)[0] for f in found}


def _judge(store: str, provider: str, settings: dict[str, Any], spec: dict[str, Any],
           expected: list[str]) -> None:
    docs = cluster_docs(store)
    docs["config"]["spec"]["networking"] = {provider: settings}
    docs["config"]["spec"].update(spec)
    refused = _refused(docs, store)
    if expected:
        assert set(expected) <= refused
    else:
        assert refused == set()


# Test_Validate_Cilium: (store for the cloud, cilium, other spec, kops fields)
CILIUM_FACTS: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("minimal-aws", {}, {}, []),
    ("minimal-aws", {"ipam": "crd"}, {}, []),
    ("minimal-aws", {"ipam": "eni"}, {}, []),
    ("minimal-aws", {"clusterID": 253}, {}, []),
    ("minimal-aws", {"masquerade": True, "ipam": "eni"}, {}, []),
    ("minimal-aws", {"ipam": "foo"}, {}, [f"{CILIUM}.ipam"]),
    ("minimal-aws", {"masquerade": False, "ipam": "eni"}, {}, []),
    ("minimal-aws", {"enableL7Proxy": True, "installIptablesRules": False}, {},
     [f"{CILIUM}.enableL7Proxy"]),
    ("minimal_gce", {"ipam": "eni"}, {}, [f"{CILIUM}.ipam"]),
    ("minimal-aws", {"identityAllocationMode": "kvstore"}, {},
     [f"{CILIUM}.identityAllocationMode"]),
    ("minimal-aws", {"version": "v1.0.0"}, {}, [f"{CILIUM}.version"]),
    ("minimal-aws", {"version": "1.7.0"}, {}, [f"{CILIUM}.version"]),
    ("minimal-aws", {"version": "v1.8.0", "hubble": {"enabled": True}}, {},
     [f"{CILIUM}.hubble.enabled"]),
    ("minimal-aws", {"version": "v1.18.0",
                     "ingress": {"enabled": True, "defaultLoadBalancerMode": "bad-value"}}, {},
     [f"{CILIUM}.ingress.defaultLoadBalancerMode"]),
    ("minimal-aws", {"version": "v1.18.0",
                     "ingress": {"enabled": True, "defaultLoadBalancerMode": "dedicated"}}, {},
     []),
    ("minimal-aws", {"version": "v1.18.0",
                     "gatewayAPI": {"enabled": True, "enableSecretsSync": True}}, {}, []),
    ("minimal-aws", {"version": "v1.18.0", "hubble": {"enabled": True}},
     {"certManager": {"enabled": True}}, []),
    ("minimal-aws", {"bpfLBSock": False, "bpfLBSockHostNSOnly": True}, {},
     [f"{CILIUM}.bpfLBSockHostNSOnly"]),
    ("minimal-aws", {"bpfLBSock": True, "bpfLBSockHostNSOnly": True}, {}, []),
]


@pytest.mark.parametrize(("store", "cilium", "spec", "expected"), CILIUM_FACTS)
def test_cilium(store: str, cilium: dict[str, Any], spec: dict[str, Any],
                expected: list[str]) -> None:
    _judge(store, "cilium", cilium, spec, expected)


IPV4 = {"nonMasqueradeCIDR": "100.64.0.0/10"}
IPV6 = {"nonMasqueradeCIDR": "::/0"}
# Test_Validate_Calico: (calico, other spec, kops fields)
CALICO_FACTS: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = [
    ({}, {}, []),
    ({"typhaReplicas": 3}, {}, []),
    ({"typhaReplicas": -1}, {}, [f"{CALICO}.typhaReplicas"]),
    ({"ipv4AutoDetectionMethod": "first-found"}, {}, []),
    ({"ipv6AutoDetectionMethod": "first-found"}, {}, []),
    ({"ipv4AutoDetectionMethod": "can-reach=8.8.8.8"}, {}, []),
    ({"ipv6AutoDetectionMethod": "can-reach=2001:4860:4860::8888"}, {}, []),
    ({"ipv4AutoDetectionMethod": "bogus"}, {}, [f"{CALICO}.ipv4AutoDetectionMethod"]),
    ({"ipv6AutoDetectionMethod": "bogus"}, {}, [f"{CALICO}.ipv6AutoDetectionMethod"]),
    ({"ipv6AutoDetectionMethod": "interface="}, {}, [f"{CALICO}.ipv6AutoDetectionMethod"]),
    ({"ipv4AutoDetectionMethod": "interface=en.*,eth0"}, {}, []),
    ({"ipv6AutoDetectionMethod": "skip-interface=en.*,eth0"}, {}, []),
    ({"ipv4AutoDetectionMethod": "interface=(,en1"}, {}, [f"{CALICO}.ipv4AutoDetectionMethod"]),
    ({"ipv4AutoDetectionMethod": "interface=foo=bar"}, {},
     [f"{CALICO}.ipv4AutoDetectionMethod"]),
    ({"ipv4AutoDetectionMethod": "=en0,eth.*"}, {}, [f"{CALICO}.ipv4AutoDetectionMethod"]),
    ({"awsSrcDstCheck": "off"}, {}, [f"{CALICO}.awsSrcDstCheck"]),
    ({"awsSrcDstCheck": "Enable"}, {}, []),
    ({"awsSrcDstCheck": "Disable"}, {}, []),
    ({"awsSrcDstCheck": "DoNothing"}, {}, []),
    ({"encapsulationMode": "none"}, IPV4, [f"{CALICO}.encapsulationMode"]),
    ({"encapsulationMode": "ipip"}, IPV6, [f"{CALICO}.encapsulationMode"]),
    ({"encapsulationMode": "vxlan"}, IPV6, [f"{CALICO}.encapsulationMode"]),
    ({"ipipMode": "unknown"}, {}, [f"{CALICO}.ipipMode"]),
    ({"ipipMode": "CrossSubnet"}, {}, []),
    ({"ipipMode": "Never"}, {}, []),
    ({"encapsulationMode": "ipip", "ipipMode": "Always"}, IPV4, []),
    ({"encapsulationMode": "ipip", "ipipMode": "CrossSubnet"}, IPV4, []),
    ({"encapsulationMode": "ipip", "ipipMode": "Never"}, IPV4, []),
    ({"encapsulationMode": "vxlan", "ipipMode": "Always"}, IPV4, [f"{CALICO}.ipipMode"]),
    ({"encapsulationMode": "vxlan", "ipipMode": "CrossSubnet"}, IPV4, [f"{CALICO}.ipipMode"]),
    ({"encapsulationMode": "vxlan", "ipipMode": "Never"}, IPV4, []),
    ({"encapsulationMode": "none", "ipipMode": "Never", "vxlanMode": "Never"}, IPV6, []),
    ({"bpfEnabled": True}, {"kubeProxy": {"enabled": False}}, []),
    ({"bpfEnabled": True}, {"kubeProxy": {}}, ["spec.kubeProxy.enabled"]),
    ({"bpfEnabled": True}, {"kubeProxy": {"enabled": True}}, ["spec.kubeProxy.enabled"]),
]


@pytest.mark.parametrize(("calico", "spec", "expected"), CALICO_FACTS)
def test_calico(calico: dict[str, Any], spec: dict[str, Any], expected: list[str]) -> None:
    _judge("minimal-aws", "calico", calico, spec, expected)


def test_calico_bpf_rule_is_kops_1_36() -> None:
    """kops 1.34 and 1.35 store calico BPF mode with kube-proxy on."""
    from kops_gitsync.validate import validate_cluster
    from tests.unit.validate_helpers import CLUSTERS, encode

    docs = cluster_docs()
    docs["config"]["spec"]["networking"] = {"calico": {"bpfEnabled": True}}
    docs["config"]["spec"]["kubeProxy"] = {}
    files = encode(docs)
    files["kops-version.txt"] = b"1.35.2"
    found = validate_cluster(f"state/{CLUSTERS['minimal-aws']}", files)
    assert [f for f in found if f.rule == "networking-provider"] == []
