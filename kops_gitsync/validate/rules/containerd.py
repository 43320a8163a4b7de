"""kops' containerd checks at store write, and the IG fields ValidateInstanceGroup checks.

Cluster ``spec.containerd`` (validation.go ``validateContainerdConfig``, in-cluster): a
version kops can parse and not below 1.3.4; NRI only from containerd 1.7.0 (kops needs the
version to tell, and crashes without one, so that is refused too); package URL and hash in
pairs, the hash at most 64 characters; the NVIDIA runtime only on AWS (OpenStack only per
IG); gVisor only per IG (kops 1.36+). InstanceGroups (instancegroup.go
``ValidateInstanceGroup``): gVisor only on role Node (1.36+), no negative root volume IOPS
or throughput, ``iam.profile`` an
instance-profile ARN, ``externalLoadBalancers`` entries with one of name (≤32 characters) or
a target group ARN (``targetgroup/<name ≤32>/<id>``), and ``volumeMounts`` with device,
filesystem and path. The IG's own ``containerd`` block is checked only by
``CrossValidateInstanceGroup`` at ``kops update cluster`` and is not covered here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    as_list,
    cluster_issue,
    ig_issue,
    ig_spec,
)
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"
_IG = "pkg/apis/kops/validation/instancegroup.go"
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")

CONTAINERD = rule(
    "containerd-config",
    "kops refuses a containerd version it cannot parse or older than 1.3.4, NRI before 1.7.0,"
    " half a package (URL without hash), NVIDIA off AWS, and gVisor in the Cluster",
    "apply the change the message names", f"{_V}: validateContainerdConfig, validateNriConfig,"
    " validateNvidiaConfig, validateGVisorConfig")
IG_FIELDS = rule(
    "ig-fields",
    "kops refuses an IG with gVisor on a role other than Node, an iam.profile that is not an"
    " instance-profile ARN, an external load balancer it cannot attach, or a volume mount"
    " without device, filesystem or path",
    "apply the change the message names", f"{_IG}: ValidateInstanceGroup,"
    " validateInstanceProfile, validateExternalLoadBalancer, validateVolumeMountSpec")


def semver(text: str, tolerant: bool) -> tuple[int, int, int, bool] | None:
    """blang/semver Parse (or ParseTolerant): (major, minor, patch, is a release) or None.

    ParseTolerant also drops leading zeros ("1.07" is 1.7.0); that form is refused here.
    """
    if tolerant:
        text = text.strip().removeprefix("v")
        parts = text.split(".", 2)
        if len(parts) < 3 and not re.search(r"[+-]", parts[-1]):
            text = ".".join(parts + ["0"] * (3 - len(parts)))
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), not match.group(4)


def _containerd(view: ClusterView) -> Iterator[tuple[YamlPath, str]]:
    config = view.spec.get("containerd")
    if not isinstance(config, dict):
        return
    base, shown = ("spec", "containerd"), "spec.containerd"
    version = config.get("version")
    if version is not None:
        parsed = semver(str(version), tolerant=True)
        if parsed is None:
            yield (*base, "version"), (f'{shown}.version: Invalid value: "{version}": unable to'
                                       " parse version string")
        if parsed is None or parsed < (1, 3, 4, True):
            yield (*base, "version"), (f'{shown}.version: Invalid value: "{version}":'
                                       " unsupported legacy version")
    if as_dict(config.get("nri")).get("enabled") is True:
        strict = semver(str(version), tolerant=False) if version is not None else None
        if strict is None or strict < (1, 7, 0, True):
            yield (*base, "nri"), (f"{shown}.nri: Forbidden: NRI is available starting from"
                                   " version 1.7.0 and above")
    packages = as_dict(config.get("packages"))
    for arch, url_field, hash_field in (("Amd64", "packageUrl", "packageHash"),
                                        ("Arm64", "packageUrlArm64", "packageHashArm64")):
        url, digest = packages.get(f"url{arch}"), packages.get(f"hash{arch}")
        if url is not None and digest is not None and len(str(digest)) > 64:
            yield (*base, "packages", f"hash{arch}"), (
                f"{shown}.{hash_field}: Invalid value: Package hash must be 64 characters long")
        elif url is not None and digest is None:
            yield (*base, "packages", f"url{arch}"), (
                f"{shown}.{url_field}: Invalid value: Package hash must also be set")
        elif digest is not None and url is None:
            yield (*base, "packages", f"hash{arch}"), (
                f"{shown}.{hash_field}: Invalid value: Package URL must also be set")
    if as_dict(config.get("nvidiaGPU")).get("enabled") is True:
        if view.cloud not in ("aws", "openstack"):
            yield (*base, "nvidiaGPU"), (f"{shown}.nvidia: Forbidden: Nvidia is only supported"
                                         " on AWS and OpenStack")
        if view.cloud == "openstack":
            yield (*base, "nvidiaGPU"), (f"{shown}.nvidia: Forbidden: OpenStack supports nvidia"
                                         " configuration only in instance group")
    if config.get("gvisor") is not None and view.kops_at_least("1.36"):
        yield (*base, "gvisor"), (f"{shown}.gvisor: Forbidden: gVisor can only be configured on"
                                  " instance groups")


def _arn_resource(text: str) -> str | None:
    """aws-sdk-go-v2 ``arn.Parse``: the resource part, or None when it is not an ARN."""
    sections = text.split(":", 5)
    return sections[5] if text.startswith("arn:") and len(sections) == 6 else None


def ig_field_problems(spec: dict[str, Any], kops_1_36: bool) -> Iterator[tuple[YamlPath, str]]:
    gvisor = as_dict(as_dict(spec.get("containerd")).get("gvisor"))
    if kops_1_36 and gvisor.get("enabled") is True and spec.get("role") != "Node":
        yield ("spec", "containerd", "gvisor"), ("spec.containerd.gvisor: Forbidden: gVisor can"
                                                 " only be enabled on instance groups with role"
                                                 " Node")
    for field, shown, words in (("rootVolumeIops", "iops", "IOPS"),
                                ("rootVolumeThroughput", "throughput", "Throughput")):
        value = spec.get(field)
        if isinstance(value, int) and value < 0:
            yield ("spec", field), (f"spec.rootVolume.{shown}: Invalid value: {value}: {words}"
                                    " must be greater than 0")
    profile = as_dict(spec.get("iam")).get("profile")
    if profile is not None and not (_arn_resource(str(profile)) or "").startswith(
            "instance-profile/"):
        yield ("spec", "iam", "profile"), (
            f'spec.iam.profile: Invalid value: "{profile}": Instance Group IAM Instance Profile'
            " must be a valid aws arn such as"
            " arn:aws:iam::123456789012:instance-profile/KopsExampleRole")
    for index, entry in enumerate(as_list(spec.get("externalLoadBalancers"))):
        yield from _load_balancer(index, as_dict(entry))
    for index, entry in enumerate(as_list(spec.get("volumeMounts"))):
        mount = as_dict(entry)
        for field, words in (("device", "device name required"),
                             ("filesystem", "filesystem type required"),
                             ("path", "mount path required")):
            if not mount.get(field):
                yield ("spec", "volumeMounts", index), (
                    f"spec.volumeMounts[{index}].{field}: Required value: {words}")


def _load_balancer(index: int, lb: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    here: YamlPath = ("spec", "externalLoadBalancers", index)
    shown = f"spec.externalLoadBalancers[{index}]"
    name, target = lb.get("loadBalancerName"), lb.get("targetGroupArn")
    if name is not None and target is not None:
        yield here, f"{shown}: Too many: 2: must have at most 1 items"
    if name is not None and len(str(name)) > 32:
        yield (*here, "loadBalancerName"), (f'{shown}.loadBalancerName: Invalid value: "{name}":'
                                            " Load Balancer name must have at most 32 characters")
    if target is None:
        return
    resource = _arn_resource(str(target))
    parts = resource.split("/") if resource is not None else []
    if resource is None:
        yield (*here, "targetGroupArn"), (f'{shown}.targetGroupARN: Invalid value: "{target}":'
                                          " Target Group ARN must be a valid AWS ARN")
    elif len(parts) != 3:
        yield (*here, "targetGroupArn"), (
            f'{shown}.targetGroupARN: Invalid value: "{target}": Target Group ARN resource must'
            ' be a valid AWS ARN resource such as "targetgroup/tg-name/1234567890123456"')
    else:
        if parts[0] != "targetgroup":
            yield (*here, "targetGroupArn"), (
                f'{shown}.targetGroupARN: Invalid value: "{parts[0]}": Target Group ARN resource'
                ' type must be "targetgroup"')
        if len(parts[1]) > 32:
            yield (*here, "targetGroupArn"), (
                f'{shown}.targetGroupARN: Invalid value: "{parts[1]}": Target Group ARN resource'
                " name must have at most 32 characters")


def check_containerd_and_ig_fields(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is not None:
        for path, message in _containerd(view):
            yield cluster_issue(CONTAINERD, path, message, at_key=True)
    for file_name, ig in sorted(view.igs.items()):
        for path, message in ig_field_problems(ig_spec(ig), view.kops_at_least("1.36")):
            yield ig_issue(file_name, IG_FIELDS, path, message, at_key=True)


CHECKS = (check_containerd_and_ig_fields,)
