"""kops' ``validateRollingUpdate`` (validation.go): maxSurge and maxUnavailable at store write.

Both fields are Kubernetes IntOrStrings: a YAML int, or a string that must be a whole
percentage (``"25%"``); a string without ``%`` (``"1"``, quoted) is refused, as kops'
apimachinery ``GetScaledValueFromIntOrPercent`` does. kops scales a percentage of
maxUnavailable against 1 rounding down and of maxSurge against 1000 rounding up, so ``"0%"``
is zero and ``"1%"`` is not; neither may be negative, both may not be zero together, and a
control-plane IG may not surge at all (its one instance owns an etcd volume). kops runs
this on the Cluster's ``spec.rollingUpdate`` and on every InstanceGroup's when it stores
them, so every finding is an error with kops' path and words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    cluster_issue,
    ig_issue,
    ig_spec,
    is_control_plane,
)
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go: validateRollingUpdate"
_GO_INT = re.compile(r"[+-]?[0-9]+")

ROLLING_UPDATE = rule(
    "rolling-update",
    "kops refuses a maxSurge/maxUnavailable that is not an int or a whole percentage, is"
    " negative, is zero for both, or surges a control-plane IG",
    "write an int (1) or a percentage (\"25%\"); keep one of the two above zero; no maxSurge"
    " on control-plane IGs", f"{_V} (via validateClusterSpec and ValidateInstanceGroup)")


def scaled(value: Any, total: int, round_up: bool) -> tuple[int, str | None]:
    """kops' ``GetScaledValueFromIntOrPercent``: (value, parse error or None)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if not isinstance(value, str):
        return 0, "invalid value for IntOrString: invalid type: neither int nor percentage"
    if not value.endswith("%"):
        return 0, "invalid value for IntOrString: invalid type: string is not a percentage"
    number = value[:-1]
    if not _GO_INT.fullmatch(number):
        return 0, (f'invalid value for IntOrString: invalid value "{value}": strconv.Atoi:'
                   f' parsing "{number}": invalid syntax')
    part = int(number) * total / 100
    return int(math.ceil(part) if round_up else math.floor(part)), None


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def rolling_update_problems(rolling: dict[str, Any],
                            control_plane: bool) -> Iterator[tuple[str, str]]:
    """(field, kops' "Type: detail" words) for each refusal, in kops' order."""
    unavailable = 1
    if rolling.get("maxUnavailable") is not None:
        value = rolling["maxUnavailable"]
        unavailable, error = scaled(value, 1, round_up=False)
        if error:
            yield "maxUnavailable", f"Invalid value: {_shown(value)}: Unable to parse: {error}"
        if unavailable < 0:
            yield "maxUnavailable", f"Invalid value: {_shown(value)}: Cannot be negative"
    if rolling.get("maxSurge") is not None:
        value = rolling["maxSurge"]
        surge, error = scaled(value, 1000, round_up=True)
        if error:
            yield "maxSurge", f"Invalid value: {_shown(value)}: Unable to parse: {error}"
        if control_plane and surge != 0:
            yield "maxSurge", 'Forbidden: Cannot surge instance groups with role "ControlPlane"'
        elif surge < 0:
            yield "maxSurge", f"Invalid value: {_shown(value)}: Cannot be negative"
        if unavailable == 0 and surge == 0:
            yield "maxSurge", "Forbidden: Cannot be zero if maxUnavailable is zero"


def check_rolling_update(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is not None:
        rolling = view.spec.get("rollingUpdate")
        if isinstance(rolling, dict):
            for field, words in rolling_update_problems(rolling, control_plane=False):
                yield cluster_issue(ROLLING_UPDATE, ("spec", "rollingUpdate", field),
                                    f"spec.rollingUpdate.{field}: {words}")
    for file_name, ig in sorted(view.igs.items()):
        rolling = ig_spec(ig).get("rollingUpdate")
        if not isinstance(rolling, dict):
            continue
        for field, words in rolling_update_problems(as_dict(rolling), is_control_plane(ig)):
            yield ig_issue(file_name, ROLLING_UPDATE, ("spec", "rollingUpdate", field),
                           f"spec.rollingUpdate.{field}: {words}")


CHECKS = (check_rolling_update,)
