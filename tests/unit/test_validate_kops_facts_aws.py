"""kops' awsValidateCluster rules as data (kops 1.37.0-alpha.1, pkg/apis/kops/validation/aws.go).

Cases from aws_test.go TestLoadBalancerSubnets, TestAWSAuthentication,
TestAWSValidateEBSCSIDriver and TestAWSValidateNLBSecurityGroupMode; the TLS, DNS None and
security group cases from the functions' code. kops' testErrors semantics: expected fields
are among ours, or both are empty. The fixture cluster is minimal-aws.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kops_gitsync.validate import validate_cluster
from tests.unit.validate_helpers import CLUSTERS, cluster_docs, encode

KOPS = "v1.37.0-alpha.1"
LB = "spec.api.loadBalancer"


def _refused(spec: dict[str, Any], kops_version: str | None = None) -> set[str]:
    docs = cluster_docs()
    docs["config"]["spec"].update(copy.deepcopy(spec))
    files = encode(docs)
    if kops_version:
        files["kops-version.txt"] = kops_version.encode()
    return {f.message.split(": ", 1)[0]
            for f in validate_cluster(f"state/{CLUSTERS['minimal-aws']}", files)
            if f.severity == "error" and f.rule == "aws-cluster"}


def _agrees(refused: set[str], expected: list[str]) -> bool:
    return set(expected) <= refused if expected else refused == set()


SUBNETS = [{"name": n, "cidr": f"10.0.{i}.0/24", "type": "Private", "zone": "us-test-1a"}
           for i, n in enumerate("abc")]


# TestLoadBalancerSubnets: an internal NLB over cluster subnets a, b, c (a is 10.0.0.0/24)
@pytest.mark.parametrize(("lb", "subnets", "expected"), [
    ({}, [{"name": "a"}, {"name": "b"}], []),
    ({}, [{"name": "a", "privateIPv4Address": "10.0.0.10"}, {"name": "b"}], []),
    ({}, [{"name": ""}], [f"{LB}.subnets[0].name"]),
    ({}, [{"name": "d"}], [f"{LB}.subnets[0].name"]),
    ({}, [{"name": "a", "privateIPv4Address": ""}], [f"{LB}.subnets[0].privateIPv4Address"]),
    ({}, [{"name": "a", "allocationId": ""}], [f"{LB}.subnets[0].allocationID"]),
    ({}, [{"name": "a", "privateIPv4Address": "invalidip"}],
     [f"{LB}.subnets[0].privateIPv4Address"]),
    ({}, [{"name": "a", "privateIPv4Address": "11.0.0.10"}],
     [f"{LB}.subnets[0].privateIPv4Address"]),
    ({"class": "Classic"}, [{"name": "a", "privateIPv4Address": "10.0.0.10"}],
     [f"{LB}.subnets[0].privateIPv4Address"]),
    ({"class": "Classic"}, [{"name": "a", "allocationId": "eipalloc-222ghi789"}],
     [f"{LB}.subnets[0].allocationID"]),
    ({"type": "Public"}, [{"name": "a", "privateIPv4Address": "10.0.0.10"}],
     [f"{LB}.subnets[0].privateIPv4Address"]),
    ({"type": "Internal"}, [{"name": "a", "allocationId": "eipalloc-222ghi789"}],
     [f"{LB}.subnets[0].allocationID"]),
])
def test_load_balancer_subnets(lb: dict[str, Any], subnets: list[dict[str, Any]],
                               expected: list[str]) -> None:
    spec = {"networkCIDR": "10.0.0.0/16", "subnets": SUBNETS,
            "api": {"loadBalancer": {"class": "Network", "type": "Internal", **lb,
                                     "subnets": subnets}}}
    assert _agrees(_refused(spec), expected)


ROLE = "arn:aws:iam::123456789012:role/KopsExampleRole"
USER = "arn:aws:iam::123456789012:user/KopsExampleUser"


# TestAWSAuthentication
@pytest.mark.parametrize(("mode", "arns", "expected"), [
    ("CRD", [ROLE, USER], []),
    ("CRD,MountedFile", [ROLE, USER], []),
    ("MountedFile", [ROLE], ["spec.authentication.aws.backendMode"]),
    ("CRD", ["arn:aws:iam::123456789012:policy/KopsExampleRole"],
     ["spec.authentication.aws.identityMappings[0].arn"]),
])
def test_aws_authentication(mode: str, arns: list[str], expected: list[str]) -> None:
    spec = {"authentication": {"aws": {"backendMode": mode, "identityMappings": [
        {"arn": arn, "username": "foo"} for arn in arns]}}}
    assert _agrees(_refused(spec), expected)


# TestAWSValidateEBSCSIDriver and TestAWSValidateNLBSecurityGroupMode (kops 1.36+)
@pytest.mark.parametrize(("config", "expected"), [
    ({"awsEBSCSIDriver": {"enabled": False}}, ["spec.cloudProvider.aws.ebsCSIDriver.enabled"]),
    ({"awsEBSCSIDriver": {"enabled": True}}, []),
    ({"nlbSecurityGroupMode": "Managed"}, []),
    ({"nlbSecurityGroupMode": ""}, ["spec.cloudProvider.aws.nlbSecurityGroupMode"]),
    ({"nlbSecurityGroupMode": "Invalid"}, ["spec.cloudProvider.aws.nlbSecurityGroupMode"]),
    ({"nlbSecurityGroupMode": "managed"}, ["spec.cloudProvider.aws.nlbSecurityGroupMode"]),
])
def test_cloud_config(config: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_refused({"cloudConfig": config}), expected)


def test_nlb_security_group_mode_is_kops_1_36() -> None:
    assert _refused({"cloudConfig": {"nlbSecurityGroupMode": "x"}}, kops_version="1.35.2") == set()


# awsValidateCluster (code): TLS, DNS None and security groups of the API load balancer
@pytest.mark.parametrize(("lb", "spec", "expected"), [
    ({"class": "Network", "sslCertificate": "arn:aws:acm:x"}, {}, []),
    ({"class": "Classic", "sslCertificate": "arn:aws:acm:x"}, {}, [f"{LB}.sslCertificate"]),
    ({"sslCertificate": "arn:aws:acm:x"}, {}, [f"{LB}.sslCertificate"]),
    ({"class": "Network", "sslCertificate": "arn:aws:acm:x", "sslPolicy": "p"}, {}, []),
    ({"class": "Network", "sslPolicy": "p"}, {}, [f"{LB}.sslPolicy"]),
    ({"class": "Network", "type": "Internal", "useForInternalApi": True},
     {"subnets": [{"name": "us-test-1a", "cidr": "172.20.32.0/19", "type": "Private",
                   "zone": "us-test-1a"}]}, [f"{LB}.useForInternalAPI"]),
    ({"class": "Classic"}, {"topology": {"dns": {"type": "None"}}}, [f"{LB}.type"]),
    ({"class": "Network"}, {"topology": {"dns": {"type": "None"}}}, []),
    ({"class": "Network", "securityGroupOverride": "sg-123"}, {}, []),
    ({"class": "Network", "securityGroupOverride": "123"}, {},
     [f"{LB}.securityGroupOverride"]),
    ({"class": "Network", "additionalSecurityGroups": ["sg-1", "sg-1"]}, {},
     [f"{LB}.additionalSecurityGroups[1]"]),
    ({"class": "Network", "additionalSecurityGroups": ["default"]}, {},
     [f"{LB}.additionalSecurityGroups[0]"]),
])
def test_api_load_balancer(lb: dict[str, Any], spec: dict[str, Any],
                           expected: list[str]) -> None:
    assert _agrees(_refused({"api": {"loadBalancer": lb}, **spec}), expected)


def _ig_refused(spec: dict[str, Any]) -> set[str]:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"].update(copy.deepcopy(spec))
    found = validate_cluster(f"state/{CLUSTERS['minimal-aws']}", encode(docs))
    assert all(f.message.endswith("(kops update cluster refuses it)")
               for f in found if f.rule == "aws-ig")
    return {f.message.split(": ", 1)[0] for f in found
            if f.severity == "error" and f.rule == "aws-ig"}


# aws_test.go TestValidateInstanceGroupSpec, TestMixedInstancePolicies and
# TestInstanceMetadataOptions (the cases that need no EC2 lookup); run at kops update
@pytest.mark.parametrize(("spec", "expected"), [
    ({"additionalSecurityGroups": []}, []),
    ({"additionalSecurityGroups": ["sg-1234abcd"]}, []),
    ({"additionalSecurityGroups": ["sg-1234abcd", ""]}, ["spec.additionalSecurityGroups[1]"]),
    ({"additionalSecurityGroups": [" ", ""]},
     ["spec.additionalSecurityGroups[0]", "spec.additionalSecurityGroups[1]"]),
    ({"additionalSecurityGroups": ["--invalid"]}, ["spec.additionalSecurityGroups[0]"]),
    ({"spotDurationInMinutes": 55}, ["spec.spotDurationInMinutes"]),
    ({"spotDurationInMinutes": 380}, ["spec.spotDurationInMinutes"]),
    ({"spotDurationInMinutes": 125}, ["spec.spotDurationInMinutes"]),
    ({"spotDurationInMinutes": 120}, []),
    ({"mixedInstancesPolicy": {"onDemandAboveBase": 231}},
     ["spec.mixedInstancesPolicy.onDemandAboveBase"]),
    ({"mixedInstancesPolicy": {"onDemandBase": 3}, "maxSize": 2},
     ["spec.mixedInstancesPolicy.onDemandBase"]),
    ({"mixedInstancesPolicy": {"onDemandBase": 1, "onDemandAboveBase": 50}, "maxSize": 2}, []),
    ({"instanceMetadata": {"httpPutResponseHopLimit": 1}}, []),
    ({"instanceMetadata": {"httpPutResponseHopLimit": -1, "httpTokens": "required"}},
     ["spec.instanceMetadata.httpPutResponseHopLimit"]),
])
def test_aws_instance_group(spec: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_ig_refused(spec), expected)
