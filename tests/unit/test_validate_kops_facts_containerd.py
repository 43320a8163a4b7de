"""kops' containerd and InstanceGroup field rules as data (kops 1.37.0-alpha.1).

Cases from validation_test.go Test_Validate_Nvidia_Cluster, Test_Validate_GVisor and
Test_Validate_NriConfig, and instancegroup_test.go TestValidateInstanceProfile; the
package, version, load balancer and volume mount cases come from the functions' code.
kops' testErrors semantics: expected fields are among ours, or both are empty.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kops_gitsync.validate import validate_cluster
from tests.unit.validate_helpers import CLUSTERS, cluster_docs, encode

KOPS = "v1.37.0-alpha.1"


def _refused(docs: dict[str, Any], rule: str, store: str = "minimal-aws",
             kops_version: str | None = None) -> set[str]:
    files = encode(docs)
    if kops_version:
        files["kops-version.txt"] = kops_version.encode()
    return {f.message.split(": ", 1)[0] for f in validate_cluster(f"state/{CLUSTERS[store]}",
                                                                  files)
            if f.severity == "error" and f.rule == rule}


def _agrees(refused: set[str], expected: list[str]) -> bool:
    return set(expected) <= refused if expected else refused == set()


def _containerd(store: str, config: dict[str, Any]) -> set[str]:
    docs = cluster_docs(store)
    docs["config"]["spec"]["containerd"] = copy.deepcopy(config)
    return _refused(docs, "containerd-config", store)


# Test_Validate_Nvidia_Cluster (OpenStack has no fixture store; its two cases are from code)
@pytest.mark.parametrize(("store", "expected"), [
    ("minimal-aws", []), ("minimal_gce", ["spec.containerd.nvidia"]),
])
def test_nvidia_in_the_cluster(store: str, expected: list[str]) -> None:
    assert _agrees(_containerd(store, {"nvidiaGPU": {"enabled": True}}), expected)


# Test_Validate_NriConfig
@pytest.mark.parametrize(("nri", "version", "expected"), [
    ({}, "1.6.0", []), ({"enabled": None}, "1.6.0", []), ({"enabled": False}, "1.6.0", []),
    ({"enabled": True}, "1.6.0", ["spec.containerd.nri"]), ({"enabled": True}, "1.7.0", []),
    # from the code: kops cannot tell without a version (it crashes), so it is refused
    ({"enabled": True}, None, ["spec.containerd.nri"]),
])
def test_nri(nri: dict[str, Any], version: str | None, expected: list[str]) -> None:
    config: dict[str, Any] = {"nri": nri}
    if version is not None:
        config["version"] = version
    assert _agrees(_containerd("minimal-aws", config), expected)


# validateContainerdConfig (code): version and packages
@pytest.mark.parametrize(("config", "expected"), [
    ({"version": "1.7.20"}, []), ({"version": "v1.7"}, []),
    ({"version": "1.3.3"}, ["spec.containerd.version"]),
    ({"version": "latest"}, ["spec.containerd.version"]),
    ({"packages": {"urlAmd64": "https://x/c.tgz", "hashAmd64": "a" * 64}}, []),
    ({"packages": {"urlAmd64": "https://x/c.tgz"}}, ["spec.containerd.packageUrl"]),
    ({"packages": {"hashArm64": "a" * 64}}, ["spec.containerd.packageHashArm64"]),
    ({"packages": {"urlAmd64": "https://x/c.tgz", "hashAmd64": "a" * 65}},
     ["spec.containerd.packageHash"]),
])
def test_containerd_version_and_packages(config: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_containerd("minimal-aws", config), expected)


# Test_Validate_GVisor (in the Cluster, enabled or not: refused; kops 1.36+)
@pytest.mark.parametrize("enabled", [True, False])
def test_gvisor_in_the_cluster(enabled: bool) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["containerd"] = {"gvisor": {"enabled": enabled}}
    assert _refused(docs, "containerd-config") == {"spec.containerd.gvisor"}
    assert _refused(docs, "containerd-config", kops_version="1.35.2") == set()


# instancegroup_test.go TestValidateInstanceGroupGVisorWorkerOnly (kops 1.36+)
@pytest.mark.parametrize(("ig", "refused"), [
    ("nodes", False), ("master-us-test-1a", True),
])
def test_gvisor_only_on_node_groups(ig: str, refused: bool) -> None:
    docs = cluster_docs()
    docs[f"instancegroup/{ig}"]["spec"]["containerd"] = {"gvisor": {"enabled": True}}
    assert bool(_refused(docs, "ig-fields")) == refused


def _ig(spec: dict[str, Any]) -> set[str]:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"].update(copy.deepcopy(spec))
    return _refused(docs, "ig-fields")


# TestValidateInstanceProfile
@pytest.mark.parametrize(("profile", "expected"), [
    ("arn:aws:iam::123456789012:instance-profile/S3Access", []),
    ("arn:aws:iam::123456789012:instance-profile/has/path/S3Access", []),
    ("arn:aws-cn:iam::123456789012:instance-profile/has/path/S3Access", []),
    ("arn:aws-us-gov:iam::123456789012:instance-profile/has/path/S3Access", []),
    ("42", ["spec.iam.profile"]),
    ("arn:aws:iam::123456789012:group/division_abc/subdivision_xyz/product_A/Developers",
     ["spec.iam.profile"]),
])
def test_instance_profile(profile: str, expected: list[str]) -> None:
    assert _agrees(_ig({"iam": {"profile": profile}}), expected)


TG = "arn:aws:elasticloadbalancing:us-test-1:123456789012:targetgroup/tg/1234567890123456"
LB = "spec.externalLoadBalancers[0]"


# validateExternalLoadBalancer (code)
@pytest.mark.parametrize(("lb", "expected"), [
    ({"loadBalancerName": "my-elb"}, []), ({"targetGroupArn": TG}, []),
    ({"loadBalancerName": "my-elb", "targetGroupArn": TG}, [LB]),
    ({"loadBalancerName": "x" * 33}, [f"{LB}.loadBalancerName"]),
    ({"targetGroupArn": "tg"}, [f"{LB}.targetGroupARN"]),
    ({"targetGroupArn": TG.replace("targetgroup/tg/", "loadbalancer/tg/")},
     [f"{LB}.targetGroupARN"]),
    ({"targetGroupArn": TG.replace("/tg/", f"/{'t' * 33}/")}, [f"{LB}.targetGroupARN"]),
])
def test_external_load_balancers(lb: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_ig({"externalLoadBalancers": [lb]}), expected)


# validateVolumeMountSpec (code)
@pytest.mark.parametrize(("mount", "expected"), [
    ({"device": "/dev/xvdd", "filesystem": "ext4", "path": "/data"}, []),
    ({"filesystem": "ext4", "path": "/data"}, ["spec.volumeMounts[0].device"]),
    ({"device": "/dev/xvdd", "path": "/data"}, ["spec.volumeMounts[0].filesystem"]),
    ({"device": "/dev/xvdd", "filesystem": "ext4"}, ["spec.volumeMounts[0].path"]),
])
def test_volume_mounts(mount: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_ig({"volumeMounts": [mount]}), expected)


# ValidateInstanceGroup (code): root volume IOPS and throughput
@pytest.mark.parametrize(("spec", "expected"), [
    ({"rootVolumeIops": 3000, "rootVolumeThroughput": 125}, []),
    ({"rootVolumeIops": -1}, ["spec.rootVolume.iops"]),
    ({"rootVolumeThroughput": -1}, ["spec.rootVolume.throughput"]),
])
def test_root_volume_signs(spec: dict[str, Any], expected: list[str]) -> None:
    assert _agrees(_ig(spec), expected)
