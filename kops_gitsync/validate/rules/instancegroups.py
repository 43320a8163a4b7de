"""InstanceGroup rules: role, sizes, subnets that exist, and the AWS-only fields.

``kops replace`` stores an IG after ``ValidateInstanceGroup`` only; the cross-object checks
(``CrossValidateInstanceGroup``: the IG's subnets exist in the Cluster, roles allowed on
the cloud) wait for ``kops update cluster``. A reviewer approving the IG sees neither, so
all of them run here on every commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    CONTROL_PLANE_ROLES,
    IG_ROLES,
    ClusterView,
    as_list,
    as_str,
    cluster_issue,
    ig_issue,
    ig_spec,
    is_control_plane,
)
from kops_gitsync.validate.rules.catalog import rule
from kops_gitsync.validate.rules.labels import label_key_problem, label_value_problem

_IG = "pkg/apis/kops/validation/instancegroup.go"
AWS_VOLUME_TYPES = ("standard", "gp2", "gp3", "io1", "io2")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
USER_DATA_TYPES = ("text/x-include-once-url", "text/x-include-url", "text/cloud-config-archive",
                   "text/upstart-job", "text/cloud-config", "text/part-handler",
                   "text/x-shellscript", "text/cloud-boothook")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}

IG_ROLE = rule("ig-role", "kops builds an IG by its role",
               "set role to Master (or ControlPlane), Node, Bastion or APIServer",
               f"{_IG}: ValidateInstanceGroup")
IG_SIZE_ORDER = rule("ig-size-order", "an autoscaling group cannot have minSize above maxSize",
                     "lower minSize or raise maxSize", f"{_IG}: ValidateInstanceGroup")
IG_CONTROL_PLANE_SIZE = rule(
    "ig-control-plane-size",
    "each control-plane IG holds one etcd member, so it has exactly one instance",
    "set minSize and maxSize to 1; add more control-plane IGs to scale",
    f"{_IG}: ValidateInstanceGroup")
IG_CONTROL_PLANE_SUBNETS = rule(
    "ig-control-plane-subnets", "a control-plane IG must be placed in a subnet",
    "list one subnet under spec.subnets", f"{_IG}: ValidateInstanceGroup")
IG_SUBNET_EXISTS = rule(
    "ig-subnet-exists",
    "an IG subnet must name a subnet of the Cluster (kops replace stores it anyway;"
    " kops update fails)",
    "use a subnet name from spec.subnets of the Cluster, or add that subnet",
    f"{_IG}: CrossValidateInstanceGroup")
IG_APISERVER_ROLE = rule(
    "ig-apiserver-role", "APIServer IGs work only on GCE, or on AWS with DNS enabled",
    "use role Node, or enable DNS", f"{_IG}: CrossValidateInstanceGroup")
IG_ROOT_VOLUME_TYPE = rule(
    "ig-root-volume-type", "AWS root volumes are standard, gp2, gp3, io1 or io2",
    "set rootVolumeType to one of standard, gp2, gp3, io1, io2",
    f"{_IG}: CrossValidateInstanceGroup")
IG_MAX_INSTANCE_LIFETIME = rule(
    "ig-max-instance-lifetime", "AWS accepts a maximum instance lifetime of 0 or at least 1 day",
    "set maxInstanceLifetime to 0s or 24h0m0s or more",
    "pkg/apis/kops/validation/aws.go: awsValidateInstanceGroup")
IG_TAINTS = rule("ig-taints",
                 "kops refuses a taint with two ':' or two '=' and repeated taints; the Node"
                 " API refuses one key:effect twice",
                 "write taints as key=value:Effect (NoSchedule, PreferNoSchedule, NoExecute)",
                 f"{_IG}: ValidateInstanceGroup; pkg/apis/kops/util/taints.go: ParseTaint")
IG_TAINT_FORM = rule(
    "ig-taint-form",
    "kops stores any effect and key (its own test ha_gce has a=b:c); Kubernetes knows only"
    " NoSchedule, PreferNoSchedule and NoExecute and label-syntax keys (warning)",
    "write taints as key=value:Effect with a Kubernetes effect",
    "none at store write (kops util.ParseTaint checks only the separators)")
IG_SYSCTL = rule("ig-sysctl", "sysctl parameters are written to sysctl.d as name=value",
                 "write each entry as name=value", f"{_IG}: ValidateInstanceGroup")
IG_USER_DATA_TYPE = rule(
    "ig-user-data-type", "cloud-init accepts only known MIME types for extra user data",
    "set additionalUserData[].type to one of the cloud-init types (e.g. text/x-shellscript)",
    f"{_IG}: ValidateInstanceGroup")
IG_WARM_POOL = rule(
    "ig-warm-pool", "AWS warm pools work only for Node/APIServer IGs and not with spot",
    "remove warmPool, or use it on an on-demand Node IG", f"{_IG}: CrossValidateInstanceGroup")
CLUSTER_INSTANCEGROUPS = rule(
    "cluster-instancegroups",
    "a cluster needs at least one control-plane IG and one other IG",
    "add the missing instance group", "pkg/apis/kops/validation/legacy.go: DeepValidate")


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration string (``48h20m0s``, ``0``), or None if it does not parse."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    if not body or _GO_DURATION_PART.sub("", body):
        return None
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in _GO_DURATION_PART.findall(body))


def check_instance_groups(view: ClusterView) -> Iterator[Issue]:
    for file_name, ig in sorted(view.igs.items()):
        spec = ig_spec(ig)
        yield from _role(file_name, spec)
        yield from _sizes(file_name, spec, is_control_plane(ig))
        yield from _taints_and_sysctls(file_name, spec)


def _role(file_name: str, spec: dict[str, Any]) -> Iterator[Issue]:
    role = spec.get("role")
    if role in IG_ROLES:
        return
    if role is None:
        yield ig_issue(file_name, IG_ROLE, ("spec",), "spec.role is missing; set it to Node,"
                       " Master, Bastion or APIServer", at_key=True)
        return
    fixed = {r.lower(): r for r in IG_ROLES}.get(as_str(role).lower())
    hint = f"did you mean {fixed!r}?" if fixed else "use Master, ControlPlane, Node, Bastion or" \
        " APIServer"
    yield ig_issue(file_name, IG_ROLE, ("spec", "role"), f"role {role!r} is not supported; {hint}")


def _sizes(file_name: str, spec: dict[str, Any], control_plane: bool) -> Iterator[Issue]:
    low, high = spec.get("minSize"), spec.get("maxSize")
    ints = isinstance(low, int) and isinstance(high, int)
    if ints and low > high:  # type: ignore[operator]
        yield ig_issue(file_name, IG_SIZE_ORDER, ("spec", "minSize"),
                       f"minSize {low} is above maxSize {high}; lower minSize or raise maxSize")
    if control_plane:
        for field in ("minSize", "maxSize"):
            value = spec.get(field)
            if isinstance(value, int) and value > 1:
                yield ig_issue(file_name, IG_CONTROL_PLANE_SIZE, ("spec", field),
                               f"control-plane IG has {field} {value}; set it to 1 and add one"
                               " control-plane IG per extra instance")
        if not as_list(spec.get("subnets")):
            yield ig_issue(file_name, IG_CONTROL_PLANE_SUBNETS, ("spec",),
                           "control-plane IG has no subnets; list one under spec.subnets",
                           at_key=True)


def _taints_and_sysctls(file_name: str, spec: dict[str, Any]) -> Iterator[Issue]:
    seen: set[tuple[str, str]] = set()
    texts: set[str] = set()
    for index, taint in enumerate(as_list(spec.get("taints"))):
        here = ("spec", "taints", index)
        text = as_str(taint)
        key, effect, refused, problem = _parse_taint(text)
        if refused:
            yield ig_issue(file_name, IG_TAINTS, here,
                           f"spec.taints[{index}]: Invalid value: {text!r}: invalid taint value"
                           " (kops splits on one ':' and one '='); write key[=value]:Effect")
        elif text in texts:
            yield ig_issue(file_name, IG_TAINTS, here,
                           f"spec.taints[{index}]: Duplicate value: {text!r} (given twice);"
                           " keep one")
        elif effect and (key, effect) in seen:
            yield ig_issue(file_name, IG_TAINTS, here,
                           f"taint {key}:{effect} is given twice; the Node API refuses a"
                           " repeated key and effect: keep one")
        elif problem:
            yield ig_issue(file_name, IG_TAINT_FORM, here,
                           f"taint {text!r} {problem}; kops stores it, but Kubernetes taints"
                           f" use Effect {', '.join(TAINT_EFFECTS)} and label-syntax keys",
                           severity="warning")
        seen.add((key, effect))
        texts.add(text)
    for index, entry in enumerate(as_list(spec.get("sysctlParameters"))):
        if "=" not in as_str(entry):
            yield ig_issue(file_name, IG_SYSCTL, ("spec", "sysctlParameters", index),
                           f"sysctl {entry!r} has no '='; write name=value")
    for index, part in enumerate(as_list(spec.get("additionalUserData"))):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in USER_DATA_TYPES:
            yield ig_issue(file_name, IG_USER_DATA_TYPE,
                           ("spec", "additionalUserData", index, "type"),
                           f"user data type {kind!r} is not one cloud-init knows; use e.g."
                           " text/x-shellscript or text/cloud-config")


def _parse_taint(text: str) -> tuple[str, str, bool, str | None]:
    """(key, effect, kops refuses, problem) as kops' ``util.ParseTaint`` splits it.

    kops refuses only a second ':' or, before the ':', a second '='; a taint without ':'
    is a bare key to kops. Effect and key syntax are Kubernetes' business (a warning).
    """
    parts = text.split(":")
    if len(parts) > 2:
        return text, "", True, None
    if len(parts) == 1:
        return text, "", False, "has no effect"
    key_value, effect = parts
    pieces = key_value.split("=")
    if len(pieces) > 2:
        return pieces[0], effect, True, None
    key, value = pieces[0], (pieces[1] if len(pieces) == 2 else "")
    if effect not in TAINT_EFFECTS:
        return key, effect, False, f"has effect {effect!r}"
    key_problem = label_key_problem(key)
    if key_problem:
        return key, effect, False, f"key {key_problem}"
    value_problem = label_value_problem(value)
    if value_problem:
        return key, effect, False, f"value {value_problem}"
    return key, effect, False, None


def check_cross_instance_groups(view: ClusterView) -> Iterator[Issue]:
    """Checks that need the Cluster: subnets exist, cloud-specific roles and fields."""
    if view.cluster is None:
        return
    subnets = view.subnet_names()
    for file_name, ig in sorted(view.igs.items()):
        spec = ig_spec(ig)
        for index, subnet in enumerate(as_list(spec.get("subnets"))):
            if as_str(subnet) not in subnets:
                known = ", ".join(sorted(subnets)) or "none"
                yield ig_issue(file_name, IG_SUBNET_EXISTS, ("spec", "subnets", index),
                               f"subnet {subnet!r} is not a subnet of the cluster (it has:"
                               f" {known}); use one of those or add it to the Cluster")
        role = spec.get("role")
        if role == "APIServer" and not (view.cloud == "gce" or
                                        (view.cloud == "aws" and view.dns_type != "None")):
            yield ig_issue(file_name, IG_APISERVER_ROLE, ("spec", "role"),
                           f"role APIServer is not supported on {view.cloud or 'this cloud'}"
                           f" with DNS {view.dns_type}; use role Node")
        if view.cloud == "aws":
            yield from _aws_fields(file_name, spec)
    yield from _group_counts(view)


def _aws_fields(file_name: str, spec: dict[str, Any]) -> Iterator[Issue]:
    if spec.get("warmPool") is not None:
        role = spec.get("role")
        if role not in ("Node", "APIServer"):
            yield ig_issue(file_name, IG_WARM_POOL, ("spec", "warmPool"),
                           f"warm pools work only on Node and APIServer IGs, not {role}",
                           at_key=True)
        if spec.get("maxPrice"):
            yield ig_issue(file_name, IG_WARM_POOL, ("spec", "warmPool"),
                           "warm pools cannot be used with spot instances (maxPrice)",
                           at_key=True)
    volume = spec.get("rootVolumeType")
    if volume is not None and volume not in AWS_VOLUME_TYPES:
        yield ig_issue(file_name, IG_ROOT_VOLUME_TYPE, ("spec", "rootVolumeType"),
                       f"rootVolumeType {volume!r} is not one of {', '.join(AWS_VOLUME_TYPES)}")
    lifetime = spec.get("maxInstanceLifetime")
    if lifetime is not None:
        seconds = go_duration_seconds(as_str(lifetime))
        if seconds is None or (seconds != 0 and seconds < 86400):
            yield ig_issue(file_name, IG_MAX_INSTANCE_LIFETIME, ("spec", "maxInstanceLifetime"),
                           f"maxInstanceLifetime {lifetime!r} must be 0s or at least 24h0m0s")


def _group_counts(view: ClusterView) -> Iterator[Issue]:
    if not view.all_igs_readable:
        return
    roles = [ig_spec(ig).get("role") for ig in view.igs.values()]
    if not any(role in CONTROL_PLANE_ROLES for role in roles):
        yield cluster_issue(CLUSTER_INSTANCEGROUPS, ("metadata", "name"),
                            "the cluster has no control-plane instance group; add"
                            " instancegroup/<name> with role Master")
    if not any(role not in CONTROL_PLANE_ROLES for role in roles):
        yield cluster_issue(CLUSTER_INSTANCEGROUPS, ("metadata", "name"),
                            "the cluster has no node instance group; add instancegroup/nodes"
                            " with role Node")


CHECKS = (check_instance_groups, check_cross_instance_groups)
