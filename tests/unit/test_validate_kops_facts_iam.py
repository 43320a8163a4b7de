"""kops' IAM policy rules and the small networking providers as data (kops 1.37.0-alpha.1).

Cases from validation_test.go Test_Validate_AdditionalPolicies,
TestValidateSAExternalPermissions, Test_Validate_Networking_Flannel and
Test_Validate_Networking_Kindnet; externalPolicies and GCP networking from their code.
kops' testErrors semantics: expected fields are among ours, or both are empty.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.validate_helpers import cluster_docs, findings

KOPS = "v1.37.0-alpha.1"
RULES = {"iam-policy", "networking-provider", "enum-value"}
STATEMENT = '[ { "Action": [ "s3:GetObject" ], "Resource": [ "*" ]%s } ]'


def _refused(spec: dict[str, Any], store: str = "minimal-aws") -> set[str]:
    docs = cluster_docs(store)
    docs["config"]["spec"].update(copy.deepcopy(spec))
    return {f.message.split(": ", 1)[0] for f in findings(docs, store)
            if f.severity == "error" and f.rule in RULES}


def _agrees(refused: set[str], expected: list[str]) -> bool:
    return set(expected) <= refused if expected else refused == set()


# Test_Validate_AdditionalPolicies (v1alpha2 writes control-plane as master; both are read)
@pytest.mark.parametrize(("policies", "expected"), [
    ({}, []),
    ({"control-plane": STATEMENT % ', "Effect": "Allow"'}, []),
    ({"master": STATEMENT % ', "Effect": "Allow"'}, []),
    ({"notarole": STATEMENT % ', "Effect": "Allow"'}, ["spec.additionalPolicies"]),
    ({"control-plane": "badjson"}, ["spec.additionalPolicies[control-plane]"]),
    ({"control-plane": STATEMENT % ""}, ["spec.additionalPolicies[control-plane][0].Effect"]),
    ({"master": STATEMENT % ', "Effect": "allow"'},
     ["spec.additionalPolicies[control-plane][0].Effect"]),
    # from the code: Go's json fills Effect from "effect" too; an object is not a list
    ({"node": STATEMENT % ', "effect": "Deny"'}, []),
    ({"node": '{"Effect": "Allow", "Action": "*", "Resource": "*"}'},
     ["spec.additionalPolicies[node]"]),
])
def test_additional_policies(policies: dict[str, str], expected: list[str]) -> None:
    assert _agrees(_refused({"additionalPolicies": policies}), expected)


# validateExternalPolicies (code)
@pytest.mark.parametrize(("policies", "expected"), [
    ({"node": ["arn:aws:iam::123456789012:policy/KopsExamplePolicy"]}, []),
    ({"master": ["arn:aws-cn:iam::123456789012:policy/path/P"]}, []),
    ({"node": ["arn:aws:iam::123456789012:role/NotAPolicy"]}, ["spec.externalPolicies.node"]),
    ({"node": ["KopsExamplePolicy"]}, ["spec.externalPolicies.node"]),
    ({"workers": ["arn:aws:iam::123456789012:policy/P"]}, ["spec.externalPolicies"]),
])
def test_external_policies(policies: dict[str, list[str]], expected: list[str]) -> None:
    assert _agrees(_refused({"externalPolicies": policies}), expected)


SA = "spec.iam.serviceAccountExternalPermissions"


# TestValidateSAExternalPermissions
@pytest.mark.parametrize(("accounts", "expected"), [
    ([{"name": "MySA", "namespace": "MyNS", "aws": {"policyARNs": ["-"]}},
      {"name": "MySA", "namespace": "MyNS", "aws": {"policyARNs": ["-"]}}],
     [f"{SA}[MyNS/MySA]"]),
    ([{"name": "MySA", "namespace": "MyNS"}], [f"{SA}[MyNS/MySA].aws"]),
    ([{"name": "MySA", "namespace": "MyNS", "aws": {"policyARNs": ["-"], "inlinePolicy": "-"}}],
     [f"{SA}[MyNS/MySA].aws"]),
    ([{"namespace": "MyNS", "aws": {"policyARNs": ["-"], "inlinePolicy": "-"}}],
     [f"{SA}[MyNS/].name"]),
    ([{"name": "MySA", "aws": {"policyARNs": ["-"], "inlinePolicy": "-"}}],
     [f"{SA}[/MySA].namespace"]),
    ([{"name": "MySA", "namespace": "MyNS", "aws": {"inlinePolicy": "[]"}}], []),
])
def test_service_account_external_permissions(accounts: list[dict[str, Any]],
                                              expected: list[str]) -> None:
    spec = {"iam": {"useServiceAccountExternalPermissions": True,
                    "serviceAccountExternalPermissions": accounts}}
    assert _agrees(_refused(spec), expected)


# Test_Validate_Networking_Flannel. An empty backend is "udp" after v1alpha2 defaulting
# (SetDefaults_ClusterSpec), so a stored v1alpha2 object never reaches kops' Required.
@pytest.mark.parametrize(("backend", "expected"), [
    ("udp", []), ("vxlan", []), ("", []), ("nope", ["spec.networking.flannel.backend"]),
])
def test_flannel(backend: str, expected: list[str]) -> None:
    assert _agrees(_refused({"networking": {"flannel": {"backend": backend}}}), expected)


def test_flannel_refuses_ipv6() -> None:
    spec = {"networking": {"flannel": {"backend": "vxlan"}}, "nonMasqueradeCIDR": "::/0"}
    assert "spec.networking.flannel" in _refused(spec)


# Test_Validate_Networking_Kindnet
@pytest.mark.parametrize(("enabled", "cidrs", "expected"), [
    (True, ["10.0.0.0/24", "2001:db8::/64"], []),
    (True, ["a.b.c.d/24", "2001:db8::/64"], ["spec.networking.kindnet"]),
    (False, ["a.b.c.d/24", "2001:db8::/64"], []),
])
def test_kindnet(enabled: bool, cidrs: list[str], expected: list[str]) -> None:
    spec = {"networking": {"kindnet": {"masquerade": {"enabled": enabled,
                                                      "nonMasqueradeCIDRs": cidrs}}}}
    assert _agrees(_refused(spec), expected)


# validateNetworkingGCP (code): v1alpha2 networking.gce, kops' networking.gcp
@pytest.mark.parametrize(("store", "expected"), [
    ("minimal_gce", []), ("minimal-aws", ["spec.networking.gcp"]),
])
def test_gcp_networking_only_on_gce(store: str, expected: list[str]) -> None:
    assert _agrees(_refused({"networking": {"gce": {}}}, store), expected)


# validateNetworking (code): kubenet, kopeio, kube-router and amazon-vpc limits
@pytest.mark.parametrize(("store", "spec", "expected"), [
    ("minimal-aws", {"networking": {"kubenet": {}}}, []),
    ("minimal-aws", {"networking": {"kubenet": {}}, "nonMasqueradeCIDR": "::/0"},
     ["spec.networking.kubenet"]),
    ("minimal-aws", {"networking": {"kopeio": {}}, "nonMasqueradeCIDR": "::/0"},
     ["spec.networking.kopeio"]),
    ("minimal-aws", {"networking": {"kuberouter": {}}, "kubeProxy": {"enabled": False}}, []),
    ("minimal-aws", {"networking": {"kuberouter": {}}, "kubeProxy": {}},
     ["spec.kubeProxy.enabled"]),
    ("minimal-aws", {"networking": {"amazonvpc": {}}}, []),
    ("minimal_gce", {"networking": {"amazonvpc": {}}}, ["spec.networking.amazonVPC"]),
])
def test_other_networking_limits(store: str, spec: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_refused(spec, store), expected)
