"""The steps every end-to-end test takes, whatever the scheme: pull a fixture store, edit one
InstanceGroup in git, push it, and compare what the scheme's own client reads back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.sync.pull import pull
from tests.core.conftest import git

CLUSTER = "minimal-aws.example.com"
NODES = f"{CLUSTER}/instancegroup/nodes"


def cli(repo: Path, verb: str, *args: str) -> int:
    return main([verb, "--repo", str(repo), *args])


def pull_edit_push(
    repo: Path, original: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """Pull (the mirror matches the store), raise nodes' maxSize to 5 in git, push --yes."""
    assert cli(repo, "pull") == 0
    mirrored = repo / "state" / NODES
    assert mirrored.read_bytes() == original[NODES]
    text = mirrored.read_text()
    assert "maxSize: 2" in text
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: allow five")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err


def assert_only_the_edit_landed(original: dict[str, bytes], after: dict[str, bytes]) -> None:
    changed = {k for k in set(original) | set(after) if original.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES]
    assert LOCK_KEY not in after


def assert_next_pull_is_up_to_date(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out


def assert_noop_pull_lists_once(repo: Path) -> None:
    """A no-op pull costs the listing page and nothing else: no GET, no HEAD."""
    (context,) = open_contexts(repo, None, None, dict(os.environ))
    try:
        assert pull(context).observed_commit is None
        counts = context.store.request_counts  # type: ignore[attr-defined]
        assert counts == {"LIST": 1}
    finally:
        context.close()
