"""gitrepo/staged.py: the git facts the hooks rely on, in a real repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kops_gitsync.gitrepo import staged


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a").write_text("a\n")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-q", "-m", "a")
    return tmp_path


def test_first_commit_compares_with_the_empty_tree(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "new").write_text("x")
    git(tmp_path, "add", "new")
    assert staged.resolve("HEAD", tmp_path) is None
    assert staged.staged_paths(tmp_path) == ["new"]


def test_staged_paths_include_deletions_and_blobs_come_from_the_index(repo: Path) -> None:
    (repo / "b[1]").write_text("staged\n")
    git(repo, "add", "b[1]")
    (repo / "b[1]").write_text("unstaged edit\n")
    git(repo, "rm", "-q", "a")
    assert staged.staged_paths(repo) == ["a", "b[1]"]
    assert staged.index_blobs(["b[1]", "a"], repo) == {"b[1]": b"staged\n"}
    assert staged.tree_blobs("HEAD", ["a"], repo) == {"a": b"a\n"}


def test_default_branch_order(repo: Path) -> None:
    git(repo, "branch", "-m", "master")
    assert staged.default_branch(repo) == "main"  # init.defaultBranch from the test HOME
    git(repo, "config", "init.defaultBranch", "trunk")
    assert staged.default_branch(repo) == "trunk"
    git(repo, "update-ref", "refs/remotes/origin/prod", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/prod")
    assert staged.default_branch(repo) == "prod"


def test_merge_heads_from_merge_head_or_reflog_action(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tip = git(repo, "rev-parse", "HEAD")
    monkeypatch.delenv("GIT_REFLOG_ACTION", raising=False)
    assert staged.merge_heads(repo) == []
    monkeypatch.setenv("GIT_REFLOG_ACTION", "merge main no-such-ref")
    assert staged.merge_heads(repo) == [tip]
    monkeypatch.setenv("GIT_REFLOG_ACTION", "pull origin main")
    assert staged.merge_heads(repo) == []
    (repo / ".git" / "MERGE_HEAD").write_text(f"{tip}\n")
    assert staged.merge_heads(repo) == [tip]


def test_push_lines(repo: Path) -> None:
    tip = git(repo, "rev-parse", "HEAD")
    lines = (
        f"refs/heads/main {tip} refs/heads/feature {staged.ZERO_SHA}\n"
        f"(delete) {staged.ZERO_SHA} refs/heads/old {tip}\n"
        f"refs/tags/v1 {tip} refs/tags/v1 {staged.ZERO_SHA}\n"
    )
    new, delete, tag = staged.parse_push_lines(lines)
    assert new.remote_branch == "feature" and not new.deletes
    assert delete.deletes and staged.pushed_paths(delete, "origin", repo) == []
    assert tag.remote_branch is None
    assert staged.pushed_paths(new, "origin", repo) == ["a"]
