"""Cases from kops' own unit tests, as data: field value -> kops' verdict (kops 1.37.0-alpha.1).

Each table names the kops test it comes from (pkg/apis/kops/validation/*_test.go at tag
v1.37.0-alpha.1); the verdict is what that test asserts kops' validation says. We must say
"error" exactly where kops refuses and nothing (or a warning) where it accepts. Values are set
on a real fixture cluster (tests/fixtures/stores/minimal-aws), as a user would write them.
"""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate import Finding
from tests.unit.validate_helpers import cluster_docs, findings

KOPS = "v1.37.0-alpha.1"


def _errors(docs: dict[str, Any], rules: set[str]) -> list[Finding]:
    return [f for f in findings(docs) if f.severity == "error" and f.rule in rules]


# validation_test.go TestValidateCIDR (validateCIDR, used for sshAccess and the others)
CIDR_FACTS = [
    ("192.168.0.1/32", None),
    ("192.168.0.1", 'Could not be parsed as a CIDR (did you mean "192.168.0.1/32")'),
    ("10.128.0.0/8", 'Network contains bits outside prefix (did you mean "10.0.0.0/8")'),
    ("", "Could not be parsed as a CIDR"),
    ("invalid.example.com", "Could not be parsed as a CIDR"),
]


@pytest.mark.parametrize(("value", "kops_detail"), CIDR_FACTS)
def test_validate_cidr(value: str, kops_detail: str | None) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["sshAccess"] = [value]
    found = _errors(docs, {"access-cidr"})
    assert [f.message.endswith(kops_detail) for f in found] == ([True] if kops_detail else [])


# instancegroup_test.go TestValidNodeLabels
@pytest.mark.parametrize(("label", "refused"), [
    ("foo", False), ("subdomain.domain.tld", False), ("subdomain.domain.tld/foo", False),
    ("subdomain.domain.tld/foo/bar", True),
])
def test_valid_node_labels(label: str, refused: bool) -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["nodeLabels"] = {label: "placeholder"}
    assert bool(_errors(docs, {"ig-node-labels"})) == refused


# instancegroup_test.go TestValidTaints
@pytest.mark.parametrize(("taints", "refused"), [
    (["nvidia.com/gpu:NoSchedule"], False),
    (["nvidia.com/gpu:NoSchedule", "nvidia.com/gpu:NoExecute"], False),
    (["nvidia.com/gpu:NoSchedule", "nvidia.com/gpu:NoSchedule"], True),  # Duplicate value
])
def test_valid_taints(taints: list[str], refused: bool) -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["taints"] = taints
    assert bool(_errors(docs, {"ig-taints", "ig-taint-form"})) == refused


# instancegroup_test.go TestIGUpdatePolicy (a set pointer is checked even when "")
@pytest.mark.parametrize(("policy", "refused"), [
    (None, False), ("automatic", False), ("external", False), ("", True),
    ("something-else", True),
])
def test_ig_update_policy(policy: str | None, refused: bool) -> None:
    docs = cluster_docs()
    if policy is not None:
        docs["instancegroup/nodes"]["spec"]["updatePolicy"] = policy
    assert bool(_errors(docs, {"enum-value"})) == refused


# instancegroup_test.go TestValidateIGCloudLabels and TestIGCloudLabelIsIGName
@pytest.mark.parametrize(("label", "value", "refused"), [
    ("k8s.io/cluster-autoscaler/test.example.com", "placeholder", False),
    ("KubernetesCluster", "placeholder", True),
    ("MyBillingLabel", "placeholder", False),
    ("subdomain.domain.tld/foo/bar", "placeholder", False),
    ("kops.k8s.io/instancegroup", "nodes", False),
    ("kops.k8s.io/instancegroup", "not-nodes", True),
])
def test_ig_cloud_labels(label: str, value: str, refused: bool) -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["cloudLabels"] = {label: value}
    assert bool(_errors(docs, {"ig-cloud-labels"})) == refused


# instancegroup_test.go TestValidateInstanceGroupName (kops-controller refuses such IGs)
@pytest.mark.parametrize(("name", "refused"), [
    ("nodes", False), ("nodes-us-east-1a", False), ("control-plane-us-east-1a", False),
    ("nodes.example.k8s.local", False), ("nodes1", False),
    (".nodes", True), ("nodes.", True), ("Nodes", True), ("nodes foo", True), ("..", True),
])
def test_instance_group_name(name: str, refused: bool) -> None:
    docs = cluster_docs()
    ig = docs.pop("instancegroup/nodes")
    ig["metadata"]["name"] = name
    docs[f"instancegroup/{name}"] = ig
    assert bool(_errors(docs, {"ig-name-invalid"})) == refused
