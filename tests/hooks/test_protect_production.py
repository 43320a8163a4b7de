"""``kops-protect-production`` at the commit, merge and push stages, through pre-commit.

Production changes are *proposed* on any branch and reach an approved branch only through
review (docs/review-flow.md); the end-to-end flow with a review remote is in
test_protect_production_flow.py.
"""

from __future__ import annotations

import pytest

from tests.hooks.conftest import MakeRepo, Repo, fixture_store, intent_keys, output

CONFIG = """stores:
- name: prod
  path: state/prod
  production: true
  approved_branches: [main, "release/*"]
- name: dev
  path: state/dev
"""
NODES = "state/{store}/minimal-aws.example.com/instancegroup/nodes"


def _repo(make_repo: MakeRepo, config: str = CONFIG) -> Repo:
    repo = make_repo(hooks=("kops-protect-production",), config=config)
    source = fixture_store("minimal-aws")
    for store in ("prod", "dev"):
        repo.copy_tree(source, f"state/{store}", intent_keys(source))
    # As `kops-gitsync pull` writes a mirror: a merge made with --no-verify.
    assert repo.commit("initial mirror", verify=False).returncode == 0
    return repo


def _grow(repo: Repo, store: str, size: bytes = b"maxSize: 5") -> None:
    path = NODES.format(store=store)
    repo.write(path, repo.read(path).replace(b"maxSize: 2", size))


@pytest.mark.parametrize("branch", ["main", "release/2026-11"])
def test_direct_commit_on_an_approved_branch_is_refused_naming_store_files_and_flow(
    make_repo: MakeRepo, branch: str
) -> None:
    repo = _repo(make_repo)
    if branch != "main":
        repo.git("checkout", "-q", "-b", branch)
    _grow(repo, "prod")
    _grow(repo, "dev")
    proc = repo.commit("grow prod nodes")
    text = output(proc)
    assert proc.returncode == 1
    assert "production store 'prod' (state/prod/)" in text
    assert f"{branch!r} is an approved branch (approved: main, release/*" in text
    assert NODES.format(store="prod") in text
    assert NODES.format(store="dev") not in text
    assert "git switch -c" in text and "pull request" in text and "push --yes" in text


def test_commit_on_a_feature_branch_is_a_proposal(make_repo: MakeRepo) -> None:
    repo = _repo(make_repo)
    repo.git("checkout", "-q", "-b", "feature/bigger")
    _grow(repo, "prod")
    _grow(repo, "dev")
    proc = repo.commit("grow nodes everywhere")
    assert proc.returncode == 0, output(proc)


def test_non_production_store_changes_anywhere(make_repo: MakeRepo) -> None:
    repo = _repo(make_repo)
    _grow(repo, "dev")
    assert repo.commit("grow dev on main").returncode == 0
    repo.git("checkout", "-q", "-b", "feature/dev-only")
    repo.git("rm", "-q", NODES.format(store="dev"))
    assert repo.commit("drop dev nodes").returncode == 0


def test_deletion_counts_as_a_change(make_repo: MakeRepo) -> None:
    repo = _repo(make_repo)
    repo.git("rm", "-q", NODES.format(store="prod"))
    proc = repo.git("commit", "-q", "-m", "remove nodes", check=False)
    assert proc.returncode == 1
    assert NODES.format(store="prod") in output(proc)


def test_default_approved_branch_is_the_repository_default(make_repo: MakeRepo) -> None:
    config = "stores:\n- name: prod\n  path: state/prod\n  production: true\n"
    repo = make_repo(hooks=("kops-protect-production",), config=config, name="defaults")
    source = fixture_store("minimal-aws")
    repo.copy_tree(source, "state/prod", intent_keys(source))
    assert repo.commit("mirror on main (init.defaultBranch)", verify=False).returncode == 0
    repo.git("checkout", "-q", "-b", "trunk")
    _grow(repo, "prod")
    proc = repo.commit("on trunk")
    assert proc.returncode == 0, output(proc)
    # origin/HEAD wins over init.defaultBranch: trunk becomes the approved branch.
    repo.git("update-ref", "refs/remotes/origin/trunk", "HEAD")
    repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    path = NODES.format(store="prod")
    repo.write(path, repo.read(path).replace(b"maxSize: 5", b"maxSize: 6"))
    proc = repo.commit("on trunk, now the default")
    assert proc.returncode == 1 and "(approved: trunk" in output(proc)


def test_merge_stage(make_repo: MakeRepo) -> None:
    repo = _repo(make_repo)
    repo.git("checkout", "-q", "-b", "feature")
    _grow(repo, "prod")
    assert repo.commit("prod change, proposed here").returncode == 0
    # Merging it into another unapproved branch is still proposing...
    repo.git("checkout", "-q", "-b", "staging", "main")
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode == 0, output(proc)
    # ... merging it into main locally skips the review.
    repo.git("checkout", "-q", "main")
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode != 0
    assert "into approved branch 'main' here skips review" in output(proc)
    assert "pull request" in output(proc)


def test_push_stage_checks_the_remote_branch(
    make_repo: MakeRepo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = _repo(make_repo)
    remote = tmp_path_factory.mktemp("remote") / "review.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    assert repo.git("push", "-q", "--no-verify", "origin", "main").returncode == 0
    repo.git("checkout", "-q", "-b", "feature")
    _grow(repo, "prod")
    assert repo.commit("a proposal").returncode == 0
    # Pushed straight to an approved remote branch, the commits bypass the review...
    proc = repo.git("push", "origin", "feature:release/1", check=False)
    assert proc.returncode != 0
    assert "pushing to approved branch 'release/1' would bypass review" in output(proc)
    assert NODES.format(store="prod") in output(proc)
    # ... pushed to a branch of their own, they are a proposal.
    proc = repo.git("push", "origin", "feature", check=False)
    assert proc.returncode == 0, output(proc)


def test_the_first_commit_of_a_repository_is_not_refused(make_repo: MakeRepo) -> None:
    """Nothing exists to review against or propose into yet; push is the gate from here on."""
    repo = make_repo(hooks=("kops-protect-production",), config=CONFIG)
    repo.git("checkout", "-q", "--orphan", "release/first")  # an approved branch, unborn
    source = fixture_store("minimal-aws")
    repo.copy_tree(source, "state/prod", intent_keys(source))
    proc = repo.commit("bootstrap the review repository")
    assert proc.returncode == 0, output(proc)
