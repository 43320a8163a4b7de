"""Rules kops added after 1.34, as data, and that they follow the cluster's kops-version.txt.

Cases from kops' own tests at v1.37.0-alpha.1 (instancegroup_test.go
TestCrossValidateKarpenterInstanceGroup and TestValidateKarpenterStaticCapacity,
validation_test.go TestValidateFileRepository) and from validateKubelet's code for the
kubelet checks new in 1.35. A mirror whose kops-version.txt names an older minor is managed
by a kops that stores these objects, so they are not refused there.
"""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate import Finding, validate_cluster
from tests.unit.validate_helpers import CLUSTERS, cluster_docs, encode

KOPS = "v1.37.0-alpha.1"


def _errors(docs: dict[str, Any], rule: str, store: str = "minimal-aws",
            kops_version: str | None = None) -> list[Finding]:
    files = encode(docs)
    if kops_version is not None:
        files["kops-version.txt"] = kops_version.encode()
    found = validate_cluster(f"state/{CLUSTERS[store]}", files)
    return [f for f in found if f.severity == "error" and f.rule == rule]


def _fields(found: list[Finding]) -> list[str]:
    return sorted({f.message.split(": ", 1)[0] for f in found})


def _karpenter_ig(docs: dict[str, Any], **spec: Any) -> None:
    ig = docs["instancegroup/nodes"]["spec"]
    ig.pop("minSize", None)
    ig.pop("maxSize", None)
    ig.update({"manager": "Karpenter", **spec})


# TestCrossValidateKarpenterInstanceGroup: (store, role, image, kops fields)
@pytest.mark.parametrize(("store", "role", "image", "refused"), [
    ("minimal-aws", "Node", "ami-0123456789abcdef0", []),
    ("minimal-aws", "Node", "ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/"
                            "amd64/hvm/ebs-gp3/ami-id", []),
    ("minimal-aws", "Node", "kops-node-image", []),
    ("minimal-aws", "Node", "ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-*", []),
    ("minimal_gce", "Node", "ami-0123456789abcdef0", ["spec.manager"]),
    ("minimal-aws", "APIServer", "ami-0123456789abcdef0", ["spec.role"]),
    ("minimal-aws", "Node", "https://example.com/image", ["spec.image"]),
    ("minimal-aws", "Node", "ssm:", ["spec.image"]),
    ("minimal-aws", "Node", "/missing-owner", ["spec.image"]),
    ("minimal-aws", "Node", "missing-name/", ["spec.image"]),
])
def test_karpenter_instance_group(store: str, role: str, image: str,
                                  refused: list[str]) -> None:
    docs = cluster_docs(store)
    _karpenter_ig(docs, role=role, image=image)
    found = _errors(docs, "karpenter-ig", store)
    assert _fields(found) == refused
    assert all(f.message.endswith("(kops update cluster refuses it)") for f in found)


# TestValidateKarpenterStaticCapacity: (minSize, karpenter.featureGates, kops fields)
@pytest.mark.parametrize(("min_size", "gates", "refused"), [
    (None, "StaticCapacity=false", []),
    (4, None, []),
    (4, "NodeRepair=false,StaticCapacity=true", []),
    (4, "StaticCapacity=false,StaticCapacity=true", []),
    (0, None, ["spec.minSize"]),
    (-1, None, ["spec.minSize"]),
    (4, "NodeRepair=true", ["spec.minSize"]),
    (4, " ", ["spec.minSize"]),
    (4, "StaticCapacity=false", ["spec.minSize"]),
])
def test_karpenter_static_capacity(min_size: int | None, gates: str | None,
                                   refused: list[str]) -> None:
    docs = cluster_docs()
    _karpenter_ig(docs, role="Node", **({} if min_size is None else {"minSize": min_size}))
    if gates is not None:
        docs["config"]["spec"]["karpenter"] = {"featureGates": gates}
    assert _fields(_errors(docs, "karpenter-ig")) == refused


def test_karpenter_max_size_must_be_positive() -> None:
    docs = cluster_docs()
    _karpenter_ig(docs, role="Node", maxSize=0)
    assert _fields(_errors(docs, "karpenter-ig")) == ["spec.maxSize"]


# TestValidateFileRepository
@pytest.mark.parametrize(("repository", "refused"), [
    ("https://example.com/files", False), ("http://example.com/files", False),
    ("s3://example-k8s-assets/kops", True), ("gs://example-k8s-assets/kops", True),
    ("example.com/files", True), ("", True), ("https://", True),
])
def test_file_repository(repository: str, refused: bool) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["assets"] = {"fileRepository": repository}
    assert bool(_errors(docs, "file-repository")) == refused


# validateKubelet (code): checks added in kops 1.35
@pytest.mark.parametrize(("kubelet", "refused"), [
    ({"podInfraContainerImage": "registry.k8s.io/pause:3.10"}, ["podInfraContainerImage"]),
    ({"crashLoopBackOffMaxContainerRestartPeriod": "500ms"},
     ["crashLoopBackOffMaxContainerRestartPeriod"]),
    ({"crashLoopBackOffMaxContainerRestartPeriod": "5m1s"},
     ["crashLoopBackOffMaxContainerRestartPeriod"]),
    ({"crashLoopBackOffMaxContainerRestartPeriod": "1m0s"}, []),
])
def test_kubelet_checks_of_kops_1_35(kubelet: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["kubelet"] = kubelet
    assert _fields(_errors(docs, "kubelet-flags")) == [f"spec.kubelet.{f}" for f in refused]
    assert _fields(_errors(docs, "kubelet-flags", kops_version="1.35.0")) == [
        f"spec.kubelet.{f}" for f in refused]
    assert _errors(docs, "kubelet-flags", kops_version="1.34.3") == []


@pytest.mark.parametrize(("kops_version", "judged"), [
    (None, True), ("1.37.0-alpha.1", True), ("1.36.0", True), ("1.35.2", False),
    ("1.34.0-beta.1", False), ("garbage", True),
])
def test_rules_of_kops_1_36_follow_kops_version(kops_version: str | None, judged: bool) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["assets"] = {"fileRepository": "s3://bucket/kops"}
    _karpenter_ig(docs, role="Node", image="ssm:")
    found = {f.rule for rule in ("file-repository", "karpenter-ig")
             for f in _errors(docs, rule, kops_version=kops_version)}
    assert found == ({"file-repository", "karpenter-ig"} if judged else set())
