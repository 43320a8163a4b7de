"""What push checks before its first write, end to end through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.core.conftest import Run, git, snapshot
from tests.core.test_push import NODES

CLUSTER = "minimal-aws.example.com"


def test_a_no_verify_commit_cannot_carry_a_broken_object_to_the_store(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    path = repo / "state" / NODES
    # a repeated key is only a warning (kops keeps the last value); the last one, 0, is below
    # minSize 2, which kops refuses
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 2\n  maxSize: 0"))
    git(repo, "commit", "--no-verify", "-qam", "duplicate key, unchecked")
    before = snapshot(store)
    refused = cli("push", "--yes", cwd=repo)
    assert refused.code == 1 and NODES in refused.err and "--skip-validation" in refused.err
    assert snapshot(store) == before
    forced = cli("push", "--yes", "--skip-validation", cwd=repo)
    assert forced.code == 0, forced.err
    assert b"maxSize: 0" in (store / NODES).read_bytes()


def test_an_oversized_object_is_withheld_by_name_and_not_read_again(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    config = "stores:\n- name: default\n  max_object_size: 1000000\n"
    (repo / ".kops-gitsync.yaml").write_text(config)
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "cap objects at 1 MB")
    big = f"{CLUSTER}/addons/huge/manifest.yaml"
    (store / big).parent.mkdir(parents=True)
    (store / big).write_bytes(b"# filler\n" * 200_000)  # 1.8 MB
    first = cli("pull", cwd=repo)
    assert first.code == 0, first.err
    assert big in first.err and "too large" in first.err
    assert not (repo / "state" / big).exists()
    log = git(repo, "log", "-1", "--format=%B", "refs/kops-gitsync/observed/default")
    assert "too large" in log
    again = cli("pull", cwd=repo)
    assert again.code == 0 and "up to date" in again.out and big not in again.err
