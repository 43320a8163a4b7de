"""What a CLI process imports before it needs it (issue 12: fixed cost of each run).

A fresh process per check, as the CLI starts; the pattern semantics are checked too, so
deferring an import changes no decision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.gitrepo.gitproc import CommandFailed
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.sync.policy import Policy


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.split())


def test_a_store_without_patterns_does_not_import_pathspec() -> None:
    loaded = loaded_after("from kops_gitsync.config.repo_config import StoreConfig\n"
                          "from kops_gitsync.sync.policy import Policy\n"
                          "assert Policy(StoreConfig()).selected('c/config')")
    assert "pathspec" not in loaded
    assert "pathspec" in loaded_after(
        "from kops_gitsync.config.repo_config import StoreConfig\n"
        "from kops_gitsync.sync.policy import Policy\n"
        "Policy(StoreConfig(exclude=('*/secrets/*',)))")


def test_patterns_decide_as_before() -> None:
    assert Policy(StoreConfig()).selected("any/key")
    excluded = Policy(StoreConfig(exclude=("c1/instancegroup/*",)))
    assert not excluded.selected("c1/instancegroup/nodes")
    assert excluded.selected("c2/instancegroup/nodes")
    included = Policy(StoreConfig(include=("c1/**",), exclude=("c1/secrets/*",)))
    assert included.selected("c1/config")
    assert not included.selected("c1/secrets/admin")
    assert not included.selected("c2/config")


def test_push_and_its_publishing_do_not_import_gitpython() -> None:
    """Importing GitPython costs ~35 ms and two ``git version`` processes per CLI run."""
    loaded = loaded_after("import kops_gitsync.sync.push, kops_gitsync.sync.publish, "
                          "kops_gitsync.sync.approval, kops_gitsync.cli.push")
    assert "git" not in loaded


def test_a_failed_git_command_is_still_gitpythons_error(tmp_path: Path) -> None:
    from git.exc import GitCommandError

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    repo = GitRepo.open(tmp_path)
    try:
        with pytest.raises(CommandFailed) as caught:
            repo.git.fetch("no-such-remote", "main")
    finally:
        repo.close()
    assert isinstance(caught.value, GitCommandError)
    assert "no-such-remote" in caught.value.stderr
