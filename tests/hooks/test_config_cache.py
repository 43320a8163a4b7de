"""The hooks' cache of the validated ``.kops-gitsync.yaml``: never stale, never required."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.hooks.config_cache import CACHE_NAME, load_stores

PROD = """stores:
- name: prod
  path: state/prod
  production: true
  approved_branches: [main]
"""


def stage(root: Path, text: str) -> None:
    (root / ".kops-gitsync.yaml").write_text(text)
    subprocess.run(["git", "add", ".kops-gitsync.yaml"], cwd=root, check=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_cached_result_equals_the_parsed_one_and_follows_edits(root: Path) -> None:
    stage(root, PROD)
    first = load_stores(root)
    assert (root / ".git" / "kops-gitsync" / CACHE_NAME).exists()
    assert load_stores(root) == first
    assert first[0].production and first[0].approved_branches == ("main",)
    stage(root, PROD.replace("production: true", "production: false"))
    assert load_stores(root)[0].production is False


def test_corrupt_cache_is_ignored_and_invalid_config_still_fails(root: Path) -> None:
    stage(root, PROD)
    load_stores(root)
    (root / ".git" / "kops-gitsync" / CACHE_NAME).write_text("{not json")
    assert load_stores(root)[0].name == "prod"
    stage(root, "stores:\n- name: prod\n  prodcution: true\n")
    with pytest.raises(FatalError, match="did you mean 'production'"):
        load_stores(root)


def test_no_config_file_means_the_default_store(root: Path) -> None:
    (store,) = load_stores(root)
    assert store.name == "default" and store.path == "state"


def test_an_unstaged_edit_does_not_change_what_the_commit_is_judged_by(root: Path) -> None:
    """The commit records the staged config; switching production off on disk only must not
    switch protection (or the secret scan) off for it."""
    stage(root, PROD)
    (root / ".kops-gitsync.yaml").write_text(PROD.replace("production: true", "production: false"))
    assert load_stores(root)[0].production is True
