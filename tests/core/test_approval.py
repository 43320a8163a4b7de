"""Approval comes from the approved branch as the git host enforces it (issues 9 and 18).

Every test drives a real review repository with a bare repository as its review remote
(``origin``) and a file:// store, through the CLI entry point a user runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kops_gitsync.daemon.runner import push_branch, work_in_progress
from kops_gitsync.errors import FatalError
from kops_gitsync.sync import context as context_module
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.vfs.base import Store
from tests.core.conftest import Run, git, snapshot

NODES = "minimal-aws.example.com/instancegroup/nodes"
MASTER = "minimal-aws.example.com/instancegroup/master-us-test-1a"
APPROVED = '[main, "release/*"]'


def config(store: Path, *, name: str = "prod", path: str = "state", production: bool = True,
           approved: str = APPROVED, extra: str = "") -> str:
    return (
        f"stores:\n  - name: {name}\n    state: file://{store}\n    path: {path}\n"
        f"    production: {'true' if production else 'false'}\n"
        f"    approved_branches: {approved}\n{extra}"
    )


@dataclass
class Review:
    repo: Path
    store: Path
    origin: Path

    def edit(self, key: str = NODES, old: str = "maxSize: 2", new: str = "maxSize: 5",
             root: str = "state") -> None:
        path = self.repo / root / key
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def commit(self, message: str) -> None:
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", message)

    def write_config(self, text: str) -> None:
        (self.repo / ".kops-gitsync.yaml").write_text(text)


@pytest.fixture
def review(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run], tmp_path: Path
) -> Review:
    """A production store pulled into main, main published to a bare ``origin``."""
    store = make_store("minimal-aws")
    (repo / ".kops-gitsync.yaml").write_text(config(store))
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "mirror the production store")
    pulled = cli("pull", cwd=repo)
    assert pulled.code == 0, pulled.err
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    return Review(repo, store, origin)


def _refused(cli: Callable[..., Run], review: Review, *words: str, args: tuple[str, ...] = ()
             ) -> Run:
    before = snapshot(review.store)
    result = cli("push", "--yes", *args, cwd=review.repo)
    assert result.code == 1, result.out
    for word in words:
        assert word in result.err, result.err
    assert "Traceback" not in result.err
    assert snapshot(review.store) == before
    return result


# --- item 1: the approved branch's config decides ---------------------------------------


def test_branch_that_adds_itself_to_approved_branches_is_refused(
    review: Review, cli: Callable[..., Run]
) -> None:
    git(review.repo, "checkout", "-qb", "feature/self")
    review.write_config(config(review.store, approved='[main, "release/*", "feature/*"]'))
    review.edit()
    review.commit("approve myself and grow the nodes")
    _refused(cli, review, "'feature/self' is not approved", "main:.kops-gitsync.yaml")


def test_uncommitted_self_approval_is_refused(review: Review, cli: Callable[..., Run]) -> None:
    git(review.repo, "checkout", "-qb", "feature/self")
    review.edit()
    review.commit("grow the nodes")
    review.write_config(config(review.store, approved="['*']"))  # not committed
    _refused(cli, review, "'feature/self' is not approved")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"production": False}, "production"),
        ({"path": "clusters"}, "path"),
    ],
)
def test_config_change_in_the_pushed_commit_is_refused_naming_the_field(
    review: Review, cli: Callable[..., Run], change: dict[str, object], field: str
) -> None:
    """On an approved branch, reviewed even: the config change itself must land first."""
    git(review.repo, "checkout", "-qb", "release/1")
    root = str(change.get("path", "state"))
    if root != "state":
        git(review.repo, "mv", "state", root)
    review.write_config(config(review.store, **change))  # type: ignore[arg-type]
    review.edit(root=root)
    review.commit(f"{field} change and a node change in one commit")
    git(review.repo, "push", "-q", "origin", "release/1")  # as if merged after review
    git(review.repo, "checkout", "-q", ".kops-gitsync.yaml")
    # The working tree holds the branch's config too: either way the approved one decides.
    result = _refused(cli, review, field, "merged")
    assert "main" in result.err


def test_renamed_store_is_not_configured_on_the_approved_branch(
    review: Review, cli: Callable[..., Run]
) -> None:
    git(review.repo, "checkout", "-qb", "release/2")
    review.write_config(config(review.store, name="prod-renamed"))
    review.edit()
    review.commit("rename the store")
    _refused(cli, review, "not configured on the approved branch")


def test_authoritative_config_is_the_remote_default_branch(review: Review) -> None:
    """origin/main outranks local main and the working tree."""
    review.write_config(config(review.store, approved="['*']"))
    review.commit("local main approves everything, never pushed")
    from kops_gitsync.gitrepo.repo import GitRepo
    from kops_gitsync.sync.approval import authoritative_config

    stores = authoritative_config(GitRepo.open(review.repo)).stores
    assert [s.approved_branches for s in stores] == [("main", "release/*")]


# --- item 2: approved means reviewed ----------------------------------------------------


def test_unreviewed_commit_on_main_is_refused_until_it_is_on_the_remote(
    review: Review, cli: Callable[..., Run]
) -> None:
    review.edit()
    review.commit("straight on main, no review")
    _refused(cli, review, "not on origin/main", "review")
    # Merged on the host (here: pushed by URL, so the local origin/main stays stale and
    # push must fetch to see it).
    git(review.repo, "push", "-q", str(review.origin), "main")
    result = cli("push", "--yes", cwd=review.repo)
    assert result.code == 0, result.err
    assert (review.store / NODES).read_text().count("maxSize: 5") == 1


def test_branch_missing_on_the_remote_is_refused(review: Review, cli: Callable[..., Run]) -> None:
    git(review.repo, "checkout", "-qb", "release/3")
    review.edit()
    review.commit("release branch never pushed")
    _refused(cli, review, "release/3", "review")


def test_pull_merge_of_a_store_state_needs_no_second_review(
    review: Review, cli: Callable[..., Run]
) -> None:
    review.edit()
    review.commit("reviewed change")
    git(review.repo, "push", "-q", "origin", "main")
    master = review.store / MASTER
    master.write_text(master.read_text() + "# changed with kops edit\n")
    assert cli("pull", cwd=review.repo).code == 0
    assert git(review.repo, "rev-parse", "HEAD^2")  # a local merge commit, not on origin
    # An edit folded into that merge is no longer "a store state": refused.
    review.edit(key=MASTER, old="maxSize: 1", new="maxSize: 1\n  # sneaked in")
    git(review.repo, "commit", "-q", "-a", "--amend", "--no-edit")
    _refused(cli, review, "not on origin/main")
    git(review.repo, "reset", "-q", "--hard", "HEAD@{1}")
    result = cli("push", "--yes", cwd=review.repo)
    assert result.code == 0, result.err
    assert "maxSize: 5" in (review.store / NODES).read_text()


def test_production_store_without_a_remote_is_refused(
    review: Review, cli: Callable[..., Run]
) -> None:
    git(review.repo, "remote", "remove", "origin")
    review.edit()
    review.commit("no remote at all")
    _refused(cli, review, "no remote", "review-flow")


def test_non_production_store_keeps_the_branch_name_rule(
    review: Review, cli: Callable[..., Run]
) -> None:
    review.write_config(config(review.store, production=False))
    review.commit("not production any more")
    git(review.repo, "push", "-q", "origin", "main")
    git(review.repo, "checkout", "-qb", "release/4")
    review.edit()
    review.commit("release branch, never pushed")
    result = cli("push", "--yes", cwd=review.repo)
    assert result.code == 0, result.err


# --- the daemon's choices ---------------------------------------------------------------


def test_daemon_does_not_take_a_self_approved_branch(review: Review) -> None:
    git(review.repo, "checkout", "-qb", "feature/daemon")
    review.write_config(config(review.store, approved="['*']", extra="    auto_push: true\n"))
    review.commit("approve everything")
    (ctx,) = open_contexts(review.repo, None, None, {})
    try:
        assert push_branch(ctx) == "main"
        assert work_in_progress(ctx) == (
            "feature/daemon is checked out, not an approved branch of prod"
        )
    finally:
        ctx.close()


def test_daemon_push_of_an_unreviewed_main_is_refused(review: Review) -> None:
    """The daemon pushes through the same seam: an unreviewed local main stays unwritten."""
    from kops_gitsync.sync.push import push

    review.write_config(config(review.store, extra="    auto_push: true\n"))
    review.commit("auto_push, reviewed")
    git(review.repo, "push", "-q", "origin", "main")
    review.edit()
    review.commit("unreviewed, on the daemon's main")
    before = snapshot(review.store)
    (ctx,) = open_contexts(review.repo, None, None, {})
    try:
        branch = push_branch(ctx)
        assert branch == "main"
        with pytest.raises(FatalError, match="not on origin/main"):
            push(ctx, apply=True, branch=branch)
    finally:
        ctx.close()
    assert snapshot(review.store) == before


# --- item 4: status ---------------------------------------------------------------------


def test_status_in_a_fresh_clone_reports_main_approved(
    review: Review, cli: Callable[..., Run], tmp_path: Path
) -> None:
    clone = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(review.origin), str(clone))
    status = cli("status", cwd=clone)
    assert "from main (approved)" in status.out, status.out + status.err
    git(clone, "checkout", "-qb", "feature/x")
    assert "from feature/x (NOT approved)" in cli("status", cwd=clone).out


def test_status_reports_an_unreviewed_main_as_not_approved(
    review: Review, cli: Callable[..., Run]
) -> None:
    review.edit()
    review.commit("straight on main")
    assert "from main (NOT approved)" in cli("status", cwd=review.repo).out


# --- item 5: a pulled store stays bound to its URL ---------------------------------------


def test_store_pulled_with_state_is_bound_to_that_url(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = make_store("minimal-aws")
    url = f"file://{store}"
    assert cli("pull", "--state", url, cwd=repo).code == 0
    path = repo / "state" / NODES
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 4"))
    git(repo, "commit", "-qam", "grow")
    for args in (("push",), ("status",), ("push", "--yes")):
        result = cli(*args, cwd=repo)
        assert result.code == 0, f"{args}: {result.err}"
    assert "maxSize: 4" in (store / NODES).read_text()
    other = make_store("ha")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{other}/")
    result = cli("status", cwd=repo)
    assert result.code == 1
    assert url in result.err and f"file://{other}" in result.err
    assert "KOPS_STATE_STORE" in result.err


def test_open_contexts_closes_the_stores_it_opened_when_a_later_one_fails(
    repo: Path, make_store: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store("minimal-aws")
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n  - name: a\n    state: file://{store}\n"
        "  - name: b\n    state: nope://bucket\n"
    )
    closed: list[str] = []
    real_open = context_module.open_store

    def recording_open(url: str, env: object = None) -> Store:
        opened = real_open(url, env)  # type: ignore[arg-type]
        real_close = opened.close

        def close() -> None:
            closed.append(url)
            real_close()

        opened.close = close  # type: ignore[method-assign]
        return opened

    monkeypatch.setattr(context_module, "open_store", recording_open)
    with pytest.raises(FatalError, match="unknown state store scheme"):
        open_contexts(repo, None, None, {})
    assert closed == [f"file://{store}"]


def test_git_fetch_is_not_run_for_a_non_production_push(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    """A dev store pushes offline: an unreachable remote only matters for production."""
    store = make_store("minimal-aws")
    (repo / ".kops-gitsync.yaml").write_text(config(store, production=False))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dev store")
    assert cli("pull", cwd=repo).code == 0
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    path = repo / "state" / NODES
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 3"))
    git(repo, "commit", "-qam", "grow")
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0, result.err
    assert subprocess.run(["git", "ls-remote", "origin"], cwd=repo,
                          capture_output=True).returncode != 0
