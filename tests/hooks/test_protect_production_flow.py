"""The review flow of docs/review-flow.md, end to end through pre-commit, with a bare
repository as the git host: propose on a branch, merge on the host, pull, and never a
``--no-verify`` for the person who follows the hook's advice."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.hooks.conftest import MakeRepo, Repo, fixture_store, intent_keys, output

CONFIG = """stores:
- name: prod
  path: state/prod
  production: true
  approved_branches: [main]
"""
NODES = "state/prod/minimal-aws.example.com/instancegroup/nodes"


@pytest.fixture
def hosted(make_repo: MakeRepo, tmp_path: Path) -> tuple[Repo, Path]:
    """A review repo with a production mirror on main, published to a bare ``origin``."""
    repo = make_repo(hooks=("kops-protect-production",), config=CONFIG)
    source = fixture_store("minimal-aws")
    repo.copy_tree(source, "state/prod", intent_keys(source))
    assert repo.commit("mirror, as kops-gitsync pull writes it", verify=False).returncode == 0
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "--no-verify", "-u", "origin", "main")
    return repo, origin


def _grow(repo: Repo, size: bytes) -> None:
    repo.write(NODES, repo.read(NODES).replace(b"maxSize: 2", size))


def _host_merge(origin: Path, tmp_path: Path, branch: str) -> None:
    """What the git host's merge button does: a merge commit on main, made on the host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRE_COMMIT")}
    path = tmp_path / "host"
    subprocess.run(["git", "clone", "-q", str(origin), str(path)], env=env, check=True)
    host = Repo(path, env)
    host.git("merge", "--no-ff", "--no-edit", f"origin/{branch}")
    host.git("push", "-q", "origin", "main")


def test_following_the_hook_message_proposes_without_no_verify(
    hosted: tuple[Repo, Path], tmp_path: Path
) -> None:
    repo, origin = hosted
    _grow(repo, b"maxSize: 5")
    refused = repo.commit("bigger nodes, straight on main")
    assert refused.returncode == 1
    assert "git switch -c <topic>" in output(refused)
    # The advice, to the letter: the staged change comes along.
    repo.git("switch", "-q", "-c", "bigger-nodes")
    proc = repo.git("commit", "-q", "-m", "bigger nodes", check=False)
    assert proc.returncode == 0, output(proc)
    proc = repo.git("push", "-q", "-u", "origin", "bigger-nodes", check=False)
    assert proc.returncode == 0, output(proc)
    # Review happens on the host; its merge lands on main there. Back home, pull it.
    _host_merge(origin, tmp_path, "bigger-nodes")
    repo.git("switch", "-q", "main")
    repo.write("NOTES.md", "local note\n")  # a local commit, so the pull makes a merge
    assert repo.commit("notes").returncode == 0
    proc = repo.git("pull", "-q", "--no-rebase", "--no-edit", "origin", "main", check=False)
    assert proc.returncode == 0, output(proc)
    assert b"maxSize: 5" in repo.read(NODES)


def test_pushing_a_proposal_straight_to_main_is_refused(hosted: tuple[Repo, Path]) -> None:
    repo, _origin = hosted
    repo.git("checkout", "-q", "-b", "shortcut")
    _grow(repo, b"maxSize: 7")
    assert repo.commit("proposal").returncode == 0
    proc = repo.git("push", "origin", "shortcut:main", check=False)
    assert proc.returncode != 0
    assert "pushing to approved branch 'main' would bypass review" in output(proc)
    assert "HEAD:refs/heads/<topic>" in output(proc)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("production: true", "production: false"), "production"),
        (("path: state/prod", "path: state/elsewhere"), "path"),
        (("approved_branches: [main]", "approved_branches: [main, shortcut]"),
         "approved_branches"),
    ],
)
def test_the_commit_cannot_switch_its_own_protection_off(
    hosted: tuple[Repo, Path], edit: tuple[str, str], field: str
) -> None:
    """Config and mirror change in one commit on main: the approved branch's config decides."""
    repo, _origin = hosted
    config = repo.read(".kops-gitsync.yaml").decode()
    repo.write(".kops-gitsync.yaml", config.replace(*edit))
    _grow(repo, b"maxSize: 9")
    proc = repo.commit(f"{field} and nodes together")
    assert proc.returncode == 1, output(proc)
    assert "production store 'prod'" in output(proc)
    assert field in output(proc)


def test_merging_a_branch_that_was_only_proposed_is_refused_locally(
    hosted: tuple[Repo, Path],
) -> None:
    repo, _origin = hosted
    repo.git("checkout", "-q", "-b", "under-review")
    _grow(repo, b"maxSize: 4")
    assert repo.commit("proposal").returncode == 0
    repo.git("push", "-q", "origin", "under-review")  # pushed, but not merged by review
    repo.git("checkout", "-q", "main")
    proc = repo.git("merge", "--no-ff", "--no-edit", "under-review", check=False)
    assert proc.returncode != 0
    assert "skips review" in output(proc)
