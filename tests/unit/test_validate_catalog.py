"""Every rule id is declared once, documented in docs/validation.md, and used consistently."""

from __future__ import annotations

import re
from pathlib import Path

from kops_gitsync.validate.rules import RULES
from kops_gitsync.validate.rules.catalog import rule

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "kops_gitsync" / "validate"
DOC = (REPO / "docs" / "validation.md").read_text()


def test_every_rule_is_documented_with_reason_fix_source_and_example() -> None:
    sections = dict(re.findall(r"^### `([a-z0-9-]+)`\n\n(.*?)(?=^#|\Z)", DOC, re.S | re.M))
    assert set(sections) == set(RULES)
    for rule_id, body in sections.items():
        for label in ("**Why:**", "**Fix:**", "**kops source:**", "**Example:**"):
            assert label in body, (rule_id, label)


def test_rule_ids_written_as_literals_are_declared() -> None:
    """The loader and engine name some rules by string; each must be in the catalog."""
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r'Issue\(\s*"([a-z0-9-]+)"', path.read_text()))
    assert used, "the scan found no literal rule ids"
    assert used <= set(RULES)


def test_rule_ids_are_kebab_case_with_one_line_texts() -> None:
    for info in RULES.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", info.id)
        for text in (info.reason, info.fix, info.source):
            assert text and "\n" not in text


def test_a_rule_cannot_be_declared_twice() -> None:
    import pytest

    with pytest.raises(ValueError, match="declared twice"):
        rule("ig-role", "again", "again", "again")


def test_update_only_rules_are_marked() -> None:
    assert {r.id for r in RULES.values() if r.update_only} == {
        r for r in RULES if r.startswith("update-")
    }
