"""kops' rollingUpdate rule as data: cases from kops' own unit test (kops 1.37.0-alpha.1).

validation_test.go Test_Validate_RollingUpdate calls validateRollingUpdate on a bare
RollingUpdate; kops runs the same function at store write on the Cluster's
``spec.rollingUpdate`` and on each InstanceGroup's (with "on a control-plane IG" set for
role Master/ControlPlane). Each case is set on a real fixture cluster, as a user writes it:
an int is an int in YAML, a string (``"0%"``, ``nope``) is a string, as kops' IntOrString
decodes them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.validate_helpers import cluster_docs, findings

KOPS = "v1.37.0-alpha.1"
RULE = "rolling-update"

# (rollingUpdate, on a control-plane IG, the kops field kops names, or None when it accepts)
ROLLING_UPDATE_FACTS: list[tuple[dict[str, Any], bool, str | None]] = [
    ({}, False, None),
    ({"maxUnavailable": 0}, False, None),
    ({"maxUnavailable": "0%"}, False, None),
    ({"maxUnavailable": "nope"}, False, "maxUnavailable"),
    ({"maxUnavailable": -1}, False, "maxUnavailable"),
    ({"maxUnavailable": "-1%"}, False, "maxUnavailable"),
    ({"maxSurge": 0}, False, None),
    ({"maxSurge": "0%"}, False, None),
    ({"maxSurge": 1}, False, None),
    ({"maxSurge": "1%"}, False, None),
    ({"maxSurge": "nope"}, False, "maxSurge"),
    ({"maxSurge": -1}, False, "maxSurge"),
    ({"maxSurge": "-1%"}, False, "maxSurge"),
    ({"maxSurge": 0}, True, None),
    ({"maxSurge": "0%"}, True, None),
    ({"maxSurge": 1}, True, "maxSurge"),
    ({"maxSurge": "1%"}, True, "maxSurge"),
    ({"maxSurge": "nope"}, True, "maxSurge"),
    ({"maxSurge": -1}, True, "maxSurge"),
    ({"maxSurge": "-1%"}, True, "maxSurge"),
    ({"maxUnavailable": 0, "maxSurge": 0}, False, "maxSurge"),
]


def _refused_fields(docs: dict[str, Any], key: str) -> list[str]:
    return sorted({f.message.split(":")[0].rsplit(".", 1)[-1] for f in findings(docs)
                   if f.rule == RULE and f.severity == "error" and f.path.endswith(key)})


@pytest.mark.parametrize(("rolling", "control_plane", "refused"), ROLLING_UPDATE_FACTS)
def test_rolling_update_on_an_instance_group(rolling: dict[str, Any], control_plane: bool,
                                             refused: str | None) -> None:
    docs = cluster_docs()
    key = "instancegroup/master-us-test-1a" if control_plane else "instancegroup/nodes"
    docs[key]["spec"]["rollingUpdate"] = rolling
    assert _refused_fields(docs, key) == ([refused] if refused else [])


@pytest.mark.parametrize(("rolling", "refused"),
                         [(r, f) for r, cp, f in ROLLING_UPDATE_FACTS if not cp])
def test_rolling_update_on_the_cluster(rolling: dict[str, Any], refused: str | None) -> None:
    """The Cluster's rollingUpdate is never judged as a control plane's (kops passes false)."""
    docs = cluster_docs()
    docs["config"]["spec"]["rollingUpdate"] = rolling
    assert _refused_fields(docs, "config") == ([refused] if refused else [])


def test_kops_words_and_path() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["rollingUpdate"] = {"maxSurge": "2"}
    docs["instancegroup/master-us-test-1a"]["spec"]["rollingUpdate"] = {"maxSurge": "25%"}
    messages = sorted(f.message for f in findings(docs) if f.rule == RULE)
    assert messages == [
        'spec.rollingUpdate.maxSurge: Forbidden: Cannot surge instance groups with role'
        ' "ControlPlane"',
        'spec.rollingUpdate.maxSurge: Invalid value: "2": Unable to parse: invalid value for'
        ' IntOrString: invalid type: string is not a percentage',
    ]
