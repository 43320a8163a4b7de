"""Shared fixtures. Storage servers live in tests/servers/<name>.py, one module per
protocol, each loaded here as a pytest plugin. A module lists the store-factory fixtures it
provides in ``STORE_FACTORIES``; the conformance suite runs its contract against all of them.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# The fixtures the suite needs live in the repository (tests/fixtures/README.md says where they
# came from), so a fresh clone runs everything with nothing beside it.
FIXTURES = TESTS / "fixtures"
FIXTURE_STORES = FIXTURES / "stores"
INVALID_FIXTURES = FIXTURES / "invalid"
# The external reference corpus beside a development checkout (kops' CRDs, notes). Optional:
# a test that reads it asks ``shared()``, which skips the test when the corpus is absent.
SHARED = TESTS.parent.parent / "shared"

_SERVER_MODULES = sorted(
    p.stem for p in (TESTS / "servers").glob("*.py") if not p.stem.startswith("_")
)
pytest.register_assert_rewrite("tests.servers")
pytest_plugins = [f"tests.servers.{name}" for name in _SERVER_MODULES]

STORE_FACTORIES: list[str] = []
for _name in _SERVER_MODULES:
    STORE_FACTORIES += getattr(
        importlib.import_module(f"tests.servers.{_name}"), "STORE_FACTORIES", []
    )


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test may see the developer's kops config, git identity or state store."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KOPS_STATE_STORE", raising=False)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ.pop("GIT_CONFIG_GLOBAL", None)


def shared(*parts: str) -> Path:
    """A path in ``../shared``, or skip the calling test with a one-line reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the external corpus beside a development checkout)")
    return path


def fixture_store_names() -> list[str]:
    return sorted(p.name for p in FIXTURE_STORES.iterdir() if p.is_dir())
