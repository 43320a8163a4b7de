"""The rules added for issue 15 never crash on values of the wrong type (fail closed is a
``rule-crashed`` error, which would block a commit kops might accept).

Each field the new rule modules read is set, in turn, to values of every YAML type; the
validator must report schema or rule findings, never ``rule-crashed``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.validate_helpers import cluster_docs, findings

ODD: list[Any] = [None, 0, -1, 1.5, True, "", "x", "25%", [], ["x"], [None], {}, {"a": 1},
                  [[["deep"]]], "[" * 5000, {"enabled": "yes"}]
CLUSTER_FIELDS = [
    ("rollingUpdate",), ("hooks",), ("fileAssets",), ("kubeAPIServer",), ("kubelet",),
    ("masterKubelet",), ("kubeControllerManager",), ("kubeScheduler",), ("kubeProxy",),
    ("kubeDNS",), ("certManager",), ("karpenter",), ("metricsServer",), ("snapshotController",),
    ("nodeTerminationHandler",), ("awsLoadBalancerController",), ("podIdentityWebhook",),
    ("warmPool",), ("clusterAutoscaler",), ("externalDns",), ("additionalPolicies",),
    ("externalPolicies",), ("iam",), ("containerd",), ("cloudConfig",), ("authentication",),
    ("assets",), ("networkID",), ("api", "loadBalancer"), ("networking", "cilium"),
    ("networking", "calico"), ("networking", "kindnet"), ("networking", "gce"),
]
IG_FIELDS = ["rollingUpdate", "hooks", "fileAssets", "containerd", "iam", "externalLoadBalancers",
             "volumeMounts", "rootVolumeIops", "additionalSecurityGroups", "mixedInstancesPolicy",
             "instanceMetadata", "spotDurationInMinutes", "image", "minSize", "maxSize"]


def _set(spec: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        spec = spec.setdefault(step, {})
    spec[path[-1]] = value


@pytest.mark.parametrize("path", CLUSTER_FIELDS, ids=".".join)
def test_cluster_fields_of_any_type(path: tuple[str, ...]) -> None:
    for value in ODD:
        for wrapped in (value, {"x": value, "enabled": True, "maxSurge": value,
                                "authorizationMode": value, "serverIP": "100.64.0.10",
                                "nodeLocalDNS": value, "subnets": value, "version": value,
                                "identityMappings": value, "nri": value, "hostedZoneIDs": value}):
            docs = cluster_docs()
            _set(docs["config"]["spec"], path, wrapped)
            crashed = [f for f in findings(docs) if f.rule == "rule-crashed"]
            assert crashed == [], (path, wrapped)


@pytest.mark.parametrize("field", IG_FIELDS)
def test_instance_group_fields_of_any_type(field: str) -> None:
    for value in ODD:
        docs = cluster_docs()
        docs["instancegroup/nodes"]["spec"].update({field: value, "manager": "Karpenter"})
        crashed = [f for f in findings(docs) if f.rule == "rule-crashed"]
        assert crashed == [], (field, value)
