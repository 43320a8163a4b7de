"""docs/diff.md documents the JSON plan with an example: the example is what the code prints
for the scenario below, and every field the code prints is described on the page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kops_gitsync.review.model import StoreReview, Version, build_review
from kops_gitsync.review.render import render_json, render_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "diff.md"

CLUSTER = b"""apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata: {name: c.example.com}
spec:
  kubernetesVersion: v1.34.0
  etcdClusters:
  - name: main
    etcdMembers:
    - {name: a, instanceGroup: control-plane-a}
"""
NODES = b"""apiVersion: kops.k8s.io/v1alpha2
kind: InstanceGroup
metadata: {name: nodes}
spec: {role: Node, machineType: t3.medium, minSize: 2, maxSize: 2}
"""


def example_review() -> StoreReview:
    """A Cluster gaining an etcd member, nodes growing, an InstanceGroup pruned, a secret
    rotated: the scenario of the page's examples."""
    entries = [
        ("c.example.com/config", Version.of(CLUSTER), Version.of(CLUSTER.replace(
            b"control-plane-a}\n", b"control-plane-a}\n    - {name: b, instanceGroup: cp-b}\n"))),
        ("c.example.com/instancegroup/nodes", Version.of(NODES),
         Version.of(NODES.replace(b"maxSize: 2", b"maxSize: 5"))),
        ("c.example.com/instancegroup/spot", Version.of(NODES.replace(b"nodes", b"spot")), None),
        ("c.example.com/secrets/admin", Version.of(b"old-secret"), Version.of(b"new-secret")),
    ]
    return build_review("prod", "s3://kops-state", "1" * 40, "2" * 40, entries)


def example_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_json([example_review()]))
    return document


def documented_example() -> dict[str, Any]:
    text = DOC.read_text()
    block = re.search(r"<!-- example -->\n```json\n(.*?)\n```", text, re.DOTALL)
    assert block, "docs/diff.md lost its JSON example"
    document: dict[str, Any] = json.loads(block.group(1))
    return document


def test_the_documented_example_is_what_the_code_prints() -> None:
    assert documented_example() == example_document()


def test_the_text_example_is_what_the_code_prints() -> None:
    block = re.search(r"<!-- text example -->\n```\n\$ kops-gitsync diff main\.\.\.feature\n"
                      r"(.*?)\n```", DOC.read_text(), re.DOTALL)
    assert block, "docs/diff.md lost its text example"
    assert block.group(1) == render_text([example_review()])


_CONTENT = {"old", "new", "summary", "segments"}  # kops content, not the plan's own fields


def _fields(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {f for k, v in value.items() if k not in _CONTENT for f in _fields(v)}
    if isinstance(value, list):
        return {f for v in value for f in _fields(v)}
    return set()


def test_every_field_is_described() -> None:
    text = DOC.read_text()
    described = set(re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE))
    printed = _fields(example_document())
    assert printed <= described, sorted(printed - described)
