"""The hooks refuse a staged config that would move a store's default mirror folder, as the
sync commands do: otherwise a production store's files lose their protection the moment a
second store is added (its hooks would look in state/prod/, its files are in state/)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.hooks.config_cache import load_stores

STATE = """{
  "format": 1,
  "url": "file:///s",
  "objects": {
    "c.example.com/config": {"sha256": "x", "size": 1, "version": "1"}
  },
  "withheld": {}
}
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=root, check=True,
        capture_output=True,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository whose HEAD has store prod mirrored in state/, configured without path."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / ".kops-gitsync").mkdir()
    (tmp_path / ".kops-gitsync/prod.json").write_text(STATE)
    (tmp_path / "state/c.example.com").mkdir(parents=True)
    (tmp_path / "state/c.example.com/config").write_text("kind: Cluster\n")
    (tmp_path / ".kops-gitsync.yaml").write_text("stores:\n- name: prod\n  production: true\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "pulled")
    return tmp_path


def stage(root: Path, text: str) -> None:
    (root / ".kops-gitsync.yaml").write_text(text)
    git(root, "add", ".kops-gitsync.yaml")


def test_second_store_without_paths_is_refused_until_the_path_is_pinned(root: Path) -> None:
    assert load_stores(root)[0].path == "state"
    stage(root, "stores:\n- name: prod\n  production: true\n- name: dev\n")
    expected = (
        r":2: store 'prod' .* add `path: state` to store 'prod' and give 'dev' a `path` outside"
        r" state/ \(like `path: mirror/dev`\)$"
    )
    with pytest.raises(FatalError, match=expected):
        load_stores(root)
    with pytest.raises(FatalError):  # the cached parse does not skip the check
        load_stores(root)
    stage(root, "stores:\n- name: prod\n  path: state\n  production: true\n- name: dev\n"
          "  path: mirror/dev\n")
    assert [s.path for s in load_stores(root)] == ["state", "mirror/dev"]


def test_a_store_mirrored_where_its_default_points_passes(root: Path) -> None:
    git(root, "mv", "state", "prod")
    git(root, "commit", "-q", "-m", "moved")
    stage(root, "stores:\n- name: prod\n  path: prod\n- name: dev\n- name: qa\n")
    assert [s.path for s in load_stores(root)] == ["prod", "state/dev", "state/qa"]


def test_a_single_store_keeps_state_and_passes(root: Path) -> None:
    stage(root, "stores:\n- name: prod\n  production: false\n")
    assert [s.path for s in load_stores(root)] == ["state"]
