"""kops' Karpenter InstanceGroup rules and the assets file repository (added in kops 1.36).

``validateKarpenterInstanceGroup`` (instancegroup.go, from ``CrossValidateInstanceGroup``)
runs at ``kops update cluster``, not at store write: a ``manager: Karpenter`` IG must be on
AWS, have role Node, a positive maxSize, an image Karpenter's AMI selector takes
(``ami-*``, ``ssm:<parameter>``, ``<name>``, ``<owner>/<name>``), and a minSize (static
capacity) only above zero and only with the StaticCapacity feature gate (on by default; a
``karpenter.featureGates`` list must say ``StaticCapacity=true``, the last one winning).
Errors name that stage. ``validateFileRepository`` (validation.go) refuses at store write an
``assets.fileRepository`` that is not an http(s) URL with a host.

Both arrived in kops 1.36, so a cluster whose kops-version.txt names an older minor is not
judged by them (that kops stores and renders such objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    as_str,
    cluster_issue,
    ig_issue,
    ig_spec,
)
from kops_gitsync.validate.rules.catalog import rule

_IG = "pkg/apis/kops/validation/instancegroup.go"
SINCE = "1.36"
_UPDATE = "(kops update cluster refuses it)"
_SELECTOR_FORMS = "must be ami-*, ssm:<parameter>, <name>, or <owner>/<name>"

KARPENTER_IG = rule(
    "karpenter-ig",
    "kops update cluster refuses a Karpenter IG off AWS, with a role other than Node, a maxSize"
    " of zero or less, an image Karpenter cannot select, or static capacity it cannot honour",
    "keep Karpenter IGs on AWS with role Node; use ami-*, ssm:<parameter>, <name> or"
    " <owner>/<name> as image; a minSize above zero needs StaticCapacity=true",
    f"{_IG}: validateKarpenterInstanceGroup, validateKarpenterAMISelectorImage,"
    " validateKarpenterStaticCapacity (kops 1.36+)")
FILE_REPOSITORY = rule(
    "file-repository",
    "kops refuses an assets.fileRepository that is not an http:// or https:// URL with a host",
    "write the repository as https://host/path",
    "pkg/apis/kops/validation/validation.go: validateFileRepository (kops 1.36+)")


def image_problem(image: str) -> str | None:
    """kops' ``validateKarpenterAMISelectorImage``: why Karpenter cannot select ``image``."""
    image = image.strip()
    if "://" in image:
        return _SELECTOR_FORMS
    if not image or image.startswith("ami-"):
        return None
    if image.startswith("ssm:"):
        return "ssm image parameter is required" if image == "ssm:" else None
    owner, slash, name = image.partition("/")
    return _SELECTOR_FORMS if slash and (not owner or not name) else None


def static_capacity_enabled(spec: dict[str, Any]) -> bool:
    gates = as_str(as_dict(spec.get("karpenter")).get("featureGates"))
    if not gates:
        return True
    enabled = False
    for gate in gates.split(","):
        name, equals, value = gate.partition("=")
        if equals and name.strip() == "StaticCapacity":
            enabled = value.strip().lower() == "true"
    return enabled


def karpenter_problems(spec: dict[str, Any], cloud: str,
                       cluster_spec: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    if cloud != "aws":
        yield ("spec", "manager"), ("spec.manager: Forbidden: Karpenter InstanceGroups are only"
                                    " supported on AWS")
    if spec.get("role") != "Node":
        yield ("spec", "role"), "spec.role: Forbidden: Karpenter InstanceGroups must have role Node"
    high = spec.get("maxSize")
    if isinstance(high, int) and high <= 0:
        yield ("spec", "maxSize"), f"spec.maxSize: Invalid value: {high}: must be greater than zero"
    image = as_str(spec.get("image"))
    if (problem := image_problem(image)) is not None:
        yield ("spec", "image"), f'spec.image: Invalid value: "{image.strip()}": {problem}'
    low = spec.get("minSize")
    if isinstance(low, int):
        if low <= 0:
            yield ("spec", "minSize"), (f"spec.minSize: Invalid value: {low}: must be greater"
                                        " than zero for static capacity")
        elif not static_capacity_enabled(cluster_spec):
            yield ("spec", "minSize"), (
                "spec.minSize: Forbidden: static capacity requires StaticCapacity=true in"
                " cluster.spec.karpenter.featureGates")


def check_karpenter_and_file_repository(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or not view.kops_at_least(SINCE):
        return
    repository = as_dict(view.spec.get("assets")).get("fileRepository")
    if repository is not None:
        text = str(repository)
        parts = urlsplit(text)
        problem = ("fileRepository must be an http:// or https:// URL"
                   if parts.scheme not in ("http", "https") else
                   "fileRepository must include a host" if not parts.hostname else "")
        if problem:
            yield cluster_issue(FILE_REPOSITORY, ("spec", "assets", "fileRepository"),
                                f'spec.assets.fileRepository: Invalid value: "{text}": {problem}')
    for file_name, ig in sorted(view.igs.items()):
        spec = ig_spec(ig)
        if spec.get("manager") != "Karpenter":
            continue
        for path, message in karpenter_problems(spec, view.cloud, view.spec):
            yield ig_issue(file_name, KARPENTER_IG, path, f"{message} {_UPDATE}")


CHECKS = (check_karpenter_and_file_repository,)
