"""tests/constraints-lowest.txt pins exactly the lower bounds pyproject.toml declares.

The lowest-versions check (tests/lowest.sh) is only as good as this file: a bound raised in
pyproject.toml but not here (or the other way round) would test versions nobody declared.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
# Extras that are not runtime dependencies of the package (tools for tests and benchmarks),
# and the one that only names the others.
NOT_RUNTIME = {"test", "bench", "all"}


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, deps in project["optional-dependencies"].items():
        if extra not in NOT_RUNTIME:
            requirements += deps
    bounds: dict[str, str] = {}
    for text in requirements:
        req = Requirement(text)
        (lowest,) = [s.version for s in req.specifier if s.operator == ">="]
        bounds[canonicalize_name(req.name)] = lowest
    return bounds


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "tests" / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_runtime_dependency_is_pinned_at_its_lower_bound() -> None:
    bounds = _lower_bounds()
    pins = _pins()
    assert set(pins) == set(bounds)
    for name, lowest in bounds.items():
        # A bound "4.5" is the release "4.5.0": compare as versions, not strings.
        assert Version(pins[name]) == Version(lowest), name
