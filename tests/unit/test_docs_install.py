"""The install instructions name things that exist: the package is not on PyPI, so every
``pip install`` of it says where from, and every pre-commit ``rev:`` is the release tag of
this version (``v`` + pyproject's version, which the release is tagged with)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / ".pre-commit-hooks.yaml", *sorted((REPO / "docs").rglob("*.md"))]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _lines(pattern: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            if re.search(pattern, line):
                found.append((doc.relative_to(REPO).as_posix(), line.strip()))
    return found


def test_every_pip_install_of_the_package_says_where_from() -> None:
    installs = _lines(r"pip install\b.*kops-gitsync")
    assert installs, "the docs say how to install"
    unpublished = [(doc, line) for doc, line in installs
                   if "git+" not in line and "./" not in line and "'.[" not in line]
    assert unpublished == []


def test_every_pre_commit_rev_is_this_release_tag() -> None:
    revs = _lines(r"^\s*#?\s*rev:")
    assert revs
    assert [(doc, line) for doc, line in revs if f"rev: v{VERSION}" not in line] == []


def test_readme_links_the_runbook_and_the_units_verb() -> None:
    readme = (REPO / "README.md").read_text()
    assert "(docs/runbook.md)" in readme and "kops-gitsync install-units" in readme
