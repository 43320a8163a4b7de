"""The table form of kops' "setting X needs Y" rules (validate/rules/base.py: Requirement).

The rule modules' own tests pin every message and path; these pin what a table row means,
so that a new row behaves like the hand-written ``if`` it replaces: a setting counts as made
only when it is YAML ``true`` (unless the row says otherwise), a row added by a later kops
minor is skipped for a cluster managed by an older one, and rows come out in table order.
"""

from __future__ import annotations

from typing import Any

from kops_gitsync.validate.rules.base import (
    ClusterView,
    Requirement,
    field_on,
    go_cidr,
    spec_on,
    unmet,
    value_at,
)

TABLE = (
    Requirement("a.enabled", field_on("b.enabled"), "a needs b"),
    Requirement("c", spec_on("feature.enabled"), "c needs the feature",
                when=lambda _, block: bool(block.get("c"))),
    Requirement("d", field_on("e"), "d needs e (kops 1.36+)", since="1.36"),
)


def messages(block: dict[str, Any], minor: str = "",
             spec: dict[str, Any] | None = None) -> list[str]:
    view = ClusterView("c", {"spec": spec or {}}, kops_minor=minor)
    return [row.message for row in unmet(view, block, TABLE)]


def test_a_setting_is_made_only_by_yaml_true_by_default() -> None:
    assert messages({"a": {"enabled": True}}) == ["a needs b"]
    assert messages({"a": {"enabled": "true"}}) == []
    assert messages({"a": {"enabled": True}, "b": {"enabled": True}}) == []


def test_when_and_a_prerequisite_outside_the_block() -> None:
    assert messages({"c": "x"}) == ["c needs the feature"]
    assert messages({"c": "x"}, spec={"feature": {"enabled": True}}) == []
    assert messages({"c": ""}) == []


def test_a_later_minor_rule_waits_for_that_kops_and_order_is_the_tables() -> None:
    both = {"d": True, "a": {"enabled": True}}
    assert messages(both, "1.35") == ["a needs b"]
    assert messages(both, "1.36") == ["a needs b", "d needs e (kops 1.36+)"]
    assert messages(both) == ["a needs b", "d needs e (kops 1.36+)"]  # no version: newest


def test_value_at_tolerates_wrong_types() -> None:
    assert value_at({"a": ["x"]}, "a.b") is None
    assert value_at({"a": {"b": 0}}, "a.b") == 0


def test_go_cidr_and_the_stricter_netip_prefix() -> None:
    assert go_cidr("10.0.0.0/8") and go_cidr("10.0.0.1/8") and go_cidr("10.0.0.0/08")
    assert not go_cidr("10.0.0.0/08", netip=True) and go_cidr("10.0.0.0/8", netip=True)
    assert not go_cidr("fe80::1%eth0/64", netip=True)
    assert not go_cidr("10.0.0.0") and not go_cidr("10.0.0.0/\u0663") and not go_cidr("x/8")
