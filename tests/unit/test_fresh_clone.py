"""A fresh clone runs the suite with nothing beside it: tests read their fixtures from
tests/fixtures, and reach the optional ../shared corpus only through ``tests.conftest.shared``,
which skips the test with one line when the corpus is absent. A module that names
``SHARED`` or ``../shared`` itself would abort collection on a machine without it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import FIXTURE_STORES, INVALID_FIXTURES, fixture_store_names

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_reaches_shared_directly() -> None:
    direct = re.compile(r"\bSHARED\b|[\"']shared[\"']|\.\./shared")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != TESTS / "conftest.py" and path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []


def test_the_fixture_stores_and_broken_manifests_are_in_the_repository() -> None:
    assert FIXTURE_STORES.is_relative_to(TESTS) and INVALID_FIXTURES.is_relative_to(TESTS)
    names = fixture_store_names()
    assert {"minimal-aws", "ha", "minimal_gce", "privatecalico"} <= set(names)
    for name in names:
        assert list((FIXTURE_STORES / name).glob("*/config")), name
    assert len([p for p in INVALID_FIXTURES.iterdir() if p.is_dir()]) == 17
    assert (TESTS / "fixtures" / "README.md").read_text().count("Apache-2.0") >= 1
