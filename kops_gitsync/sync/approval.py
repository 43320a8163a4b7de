"""Which commit may be pushed to a store, and who says so.

The seam every writer (``push``, the daemon, ``status``) goes through to ask "is this branch
approved for this store, and which commit does it approve?". Kept in one module so the rule
cannot drift between the CLI, the daemon and the hooks. The rule (docs/review-flow.md):

* the store's settings (``approved_branches``, ``production``, ``state``, ``path``) come
  from the config committed on the approved branch (sync/authority.py), never from the
  working tree or from the commit being judged;
* the branch must match the store's approved patterns;
* for a production store, approved means *reviewed*: the commit must be on the review
  remote's copy of that branch (fetched first), apart from merges of store states that
  ``kops-gitsync pull`` made locally, which bring in nothing a person wrote.
"""

from __future__ import annotations

from pathlib import Path

from kops_gitsync.config.kops_resolution import trim_trailing_slash
from kops_gitsync.config.repo_config import (
    CONFIG_NAME,
    RepoConfig,
    StoreConfig,
    load_repo_config,
    parse_repo_config,
)
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.gitproc import CommandFailed
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.sync.authority import (
    GUARDED_FIELDS,
    POLICY_FIELDS,
    Authority,
    differences,
    load_authority,
    review_remote,
)
from kops_gitsync.sync.context import SyncContext

REVIEW_DOC = "docs/review-flow.md"


def authority(repo: GitRepo, branch: str | None = None) -> Authority:
    """The approved branch's config, as last fetched (no network)."""
    return load_authority(
        repo, review_remote(repo, branch), lambda: load_repo_config(repo.root)
    )


def authoritative_config(repo: GitRepo) -> RepoConfig:
    """``.kops-gitsync.yaml`` as committed on the approved (default) branch.

    The remote-tracking branch (``origin/main``) when the repository has a review remote,
    else the local default branch. Falls back to the working tree's config only while the
    default branch has no commit or no config file yet, with ``approved_branches`` dropped
    (only the default branch is approved then): with nothing reviewed on the approved branch
    there is no decision to override, and the fallback cannot approve any other branch.
    """
    return authority(repo).config


def fetch_approved(repo: GitRepo, remote: str, branch: str, *, required: bool = True) -> bool:
    """Update ``refs/remotes/<remote>/<branch>`` from the remote; False: it has no such branch.

    ``required``: a missing branch is an error (the approved default branch must exist).
    Any other failure (network, credentials) stops the push: "reviewed" must mean what the
    remote holds now, not what it held at the last fetch.
    """
    try:
        repo.fetch(remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        return True
    except CommandFailed as exc:
        lines = (exc.stderr or str(exc)).strip().splitlines()
        reason = lines[-1].removeprefix("stderr: ").strip("' ") if lines else "git fetch failed"
        if "couldn't find remote ref" in reason and not required:
            return False
        raise FatalError(
            f"could not fetch {branch} from {remote!r} to check what was reviewed ({reason}); "
            "nothing was pushed"
        ) from None


def _config_at(repo: GitRepo, commit: str, branch: str) -> RepoConfig | None:
    raw = repo.read_file(commit, CONFIG_NAME)
    if raw is None:
        return None
    return parse_repo_config(raw, Path(f"{branch}:{CONFIG_NAME}"))


def _mirror_changed_by_hand(repo: GitRepo, commit: str, parents: list[str], prefix: str) -> bool:
    """Does ``commit`` hold a mirror file (or an absence) that none of its parents holds?

    A merge of a store state into a reviewed branch takes every file from one side, so it
    adds nothing that was not reviewed or read from the store; a conflict resolution or an
    edit does.
    """
    tree = repo.read_tree(commit, prefix)
    sides = [repo.read_tree(parent, prefix) for parent in parents]
    if not sides:
        return bool(tree)
    for key in set(tree).union(*sides):
        entry = tree.get(key)
        if not any(side.get(key) == entry for side in sides):
            return True
    return False


def unreviewed_commits(ctx: SyncContext, commit: str, reviewed: str) -> list[str]:
    """Commits in ``commit`` that the reviewed branch lacks and that change the mirror.

    Commits on the store's observed ref are store states (and what earlier pushes wrote),
    not a person's edits; a local ``pull`` merge of them takes each file from one side.
    """
    repo = ctx.repo
    exclude = [reviewed] + ([ctx.observed_ref] if repo.resolve(ctx.observed_ref) else [])
    return [
        c
        for c in repo.commits_between(commit, exclude)
        if _mirror_changed_by_hand(repo, c, repo.parents(c), ctx.mirror_path)
    ]


def approval_problem(
    ctx: SyncContext,
    name: str,
    commit: str,
    auth: Authority,
    *,
    remote: str | None,
    fetch: bool = False,
) -> str | None:
    """Why ``commit`` on branch ``name`` may not be pushed to ``ctx``'s store (None: it may).

    ``fetch``: fetch ``name`` from the review remote before judging reachability.
    """
    where = auth.where
    store = auth.store(ctx.name)
    if store is None:
        return (
            f"store {ctx.name!r} is not configured on the approved branch ({where}); get the "
            f"config change that adds it merged into {auth.default_branch} first"
        )
    changed = differences(ctx.config, store, GUARDED_FIELDS + POLICY_FIELDS)
    if changed:
        return (
            f"{CONFIG_NAME} in the working tree differs from {where} for store {ctx.name!r}: "
            f"{'; '.join(changed)}. Push uses the approved config only: get the change "
            f"merged into {auth.default_branch} first (or undo it); if {where} is the newer "
            "one, git pull first"
        )
    if store.state and trim_trailing_slash(store.state) != ctx.url:
        return (
            f"store {ctx.name!r} is {trim_trailing_slash(store.state)} on {where}, not "
            f"{ctx.url}; refusing to push to another store"
        )
    if not auth.approves(store, name):
        return (
            f"branch {name!r} is not approved for store {ctx.name!r} (approved: "
            f"{auth.patterns(store)}, from {where}); merge the change into an approved branch "
            "after review, then push from there"
        )
    pushed = _config_at(ctx.repo, commit, name)
    if pushed is None and not auth.from_worktree:
        pushed = RepoConfig(stores=(StoreConfig(),))  # what kops-gitsync reads without a file
    if pushed is not None:
        own = next((s for s in pushed.stores if s.name == ctx.name), None)
        if own is None:
            return (
                f"{name} has no store {ctx.name!r} in its {CONFIG_NAME} (renamed or removed); "
                f"get the config change merged into {auth.default_branch} first, then push"
            )
        changed = differences(own, store)
        if changed:
            return (
                f"{name} changes store {ctx.name!r} in its {CONFIG_NAME}: {'; '.join(changed)} "
                f"on {where}. Get the config change merged into {auth.default_branch} first "
                f"(on its own), then push; if {where} is the newer one, git pull first"
            )
    if not store.production:
        return None
    if remote is None:
        return (
            f"store {ctx.name!r} is production and this repository has no remote to review "
            f"changes on (no upstream of {name}, no origin); add the review remote "
            f"(git remote add origin URL), see {REVIEW_DOC}"
        )
    on_remote = (
        not fetch
        or name == auth.default_branch  # fetched already
        or fetch_approved(ctx.repo, remote, name, required=False)
    )
    reviewed = ctx.repo.resolve(f"refs/remotes/{remote}/{name}") if on_remote else None
    if reviewed is None:
        return (
            f"{remote!r} has no branch {name!r}: nothing on it was reviewed. Push the change "
            f"through review first (a branch and a pull request into {name})"
        )
    unreviewed = unreviewed_commits(ctx, commit, reviewed)
    if unreviewed:
        shown = ", ".join(c[:12] for c in unreviewed[:5])
        return (
            f"{name} has commits that change {ctx.mirror_path}/ and are not on {remote}/{name} "
            f"({shown}): they were not reviewed. Push them through review first (a branch "
            f"and a pull request into {name}); after the merge, git pull and push again"
        )
    return None


def approved_commit(
    ctx: SyncContext, branch: str | None, check_approval: bool = True, *, fetch: bool = True
) -> tuple[str, str]:
    """(branch name, commit) to push to ``ctx``'s store; FatalError when not approved.

    ``fetch`` (with ``check_approval``): for a production store with a review remote, fetch
    the approved branches first, so "reviewed" means what the remote holds now.
    """
    repo = ctx.repo
    name = branch or repo.current_branch()
    if name is None:
        raise FatalError("HEAD is detached: check out the approved branch, or pass --branch")
    commit = repo.resolve(f"refs/heads/{name}")
    if commit is None:
        raise FatalError(f"no branch named {name!r} with commits")
    if not check_approval:
        return name, commit
    remote = review_remote(repo, name)
    auth = authority(repo, name)
    store = auth.store(ctx.name)
    production = ctx.config.production or (store is not None and store.production)
    fetch = fetch and remote is not None and production
    if fetch:
        assert remote is not None
        fetch_approved(repo, remote, auth.default_branch)
        auth = authority(repo, name)
    problem = approval_problem(ctx, name, commit, auth, remote=remote, fetch=fetch)
    if problem:
        raise FatalError(problem)
    return name, commit


def branch_approval(ctx: SyncContext, branch: str | None) -> str | None:
    """Why push would refuse ``branch`` (None: approved), without fetching: for status."""
    if branch is None:
        return "HEAD is detached"
    commit = ctx.repo.resolve(f"refs/heads/{branch}")
    if commit is None:
        return f"no branch named {branch!r} with commits"
    try:
        auth = authority(ctx.repo, branch)
        return approval_problem(
            ctx, branch, commit, auth, remote=review_remote(ctx.repo, branch)
        )
    except FatalError as exc:
        return str(exc)


def approves_branch(ctx: SyncContext, branch: str) -> bool:
    """Does the approved config approve ``branch`` for ``ctx``'s store (name only)?

    For the daemon's choices (which branch to merge into and push from); push itself then
    applies the whole rule.
    """
    try:
        auth = authority(ctx.repo, branch)
    except FatalError:
        return False
    store = auth.store(ctx.name)
    return store is not None and auth.approves(store, branch)
