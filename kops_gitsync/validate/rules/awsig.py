"""kops' ``awsValidateInstanceGroup`` (aws.go) checks that need no cloud call.

kops runs these only with a cloud (``kops update cluster``; a store write passes no cloud),
so each error names that stage: IG additionalSecurityGroups that are not ``sg-`` ids or are
repeated, a spotDurationInMinutes other than 60..360 in hours, a mixedInstancesPolicy
onDemandBase below zero or above maxSize and onDemandAboveBase outside 0..100, and an
instanceMetadata httpPutResponseHopLimit outside 1..64. The checks that look machine
types and images up in EC2 stay with kops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, ig_issue, ig_spec
from kops_gitsync.validate.rules.catalog import rule

_AWS = "pkg/apis/kops/validation/aws.go"
SPOT_DURATIONS = (60, 120, 180, 240, 300, 360)
_UPDATE = "(kops update cluster refuses it)"

AWS_IG = rule(
    "aws-ig",
    "kops update cluster refuses AWS IG settings EC2 cannot take: bad or repeated additional"
    " security groups, spot durations, on-demand shares and metadata hop limits",
    "apply the change the message names",
    f"{_AWS}: awsValidateInstanceGroup, awsValidateAdditionalSecurityGroups,"
    " awsValidateSpotDurationInMinute, awsValidateMixedInstancesPolicy,"
    " awsValidateInstanceMetadata")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def security_group_problems(groups: Any, where: str) -> Iterator[tuple[int, str]]:
    """kops' ``awsValidateAdditionalSecurityGroups``: (index, message) per bad or repeated id.

    kops runs the same check on an IG's and on the API load balancer's additional groups
    (awscluster.py), with the same words; ``where`` is the list's path in kops' messages.
    """
    seen: set[str] = set()
    for index, group in enumerate(as_list(groups)):
        text, at = str(group), f"{where}[{index}]"
        if text in seen:
            yield index, f'{at}: Duplicate value: "{text}"'
        seen.add(text)
        if not text.strip():
            yield index, f'{at}: Invalid value: "{text}": security group cannot be empty, if' \
                         " specified"
        elif not text.startswith("sg-"):
            yield index, f'{at}: Invalid value: "{text}": security group does not match the' \
                         " expected AWS format"


def aws_ig_problems(spec: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    for index, message in security_group_problems(spec.get("additionalSecurityGroups"),
                                                  "spec.additionalSecurityGroups"):
        yield ("spec", "additionalSecurityGroups", index), message
    duration = _int(spec.get("spotDurationInMinutes"))
    if duration is not None and duration not in SPOT_DURATIONS:
        listed = ", ".join(f'"{d}"' for d in SPOT_DURATIONS)
        yield ("spec", "spotDurationInMinutes"), (
            f'spec.spotDurationInMinutes: Unsupported value: "{duration}": supported values:'
            f" {listed}")
    policy = as_dict(spec.get("mixedInstancesPolicy"))
    base, above = _int(policy.get("onDemandBase")), _int(policy.get("onDemandAboveBase"))
    path = "spec.mixedInstancesPolicy"
    if base is not None and base < 0:
        yield ("spec", "mixedInstancesPolicy", "onDemandBase"), (
            f"{path}.onDemandBase: Invalid value: {base}: cannot be less than zero")
    if base is not None and base > (_int(spec.get("maxSize")) or 0):
        yield ("spec", "mixedInstancesPolicy", "onDemandBase"), (
            f"{path}.onDemandBase: Invalid value: {base}: cannot be greater than max size")
    if above is not None and not 0 <= above <= 100:
        words = "cannot be less than 0" if above < 0 else "cannot be greater than 100"
        yield ("spec", "mixedInstancesPolicy", "onDemandAboveBase"), (
            f"{path}.onDemandAboveBase: Invalid value: {above}: {words}")
    hops = _int(as_dict(spec.get("instanceMetadata")).get("httpPutResponseHopLimit"))
    if hops is not None and not 1 <= hops <= 64:
        yield ("spec", "instanceMetadata", "httpPutResponseHopLimit"), (
            f"spec.instanceMetadata.httpPutResponseHopLimit: Invalid value: {hops}:"
            " HTTPPutResponseLimit must be a value between 1 and 64")


def check_aws_instance_groups(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or view.cloud != "aws":
        return
    for file_name, ig in sorted(view.igs.items()):
        for path, message in aws_ig_problems(ig_spec(ig)):
            yield ig_issue(file_name, AWS_IG, path, f"{message} {_UPDATE}", at_key=True)


CHECKS = (check_aws_instance_groups,)
