"""``kops-protect-production``: production stores change through review, never around it.

The flow (docs/review-flow.md): a production change is committed on a feature branch,
pushed, reviewed in a pull request, merged into an approved branch on the git host, and
then written to the store by ``kops-gitsync push --yes`` (which is the hard gate: it
refuses anything not on the review remote's approved branch). This hook keeps people on
that path early, in their own clone:

* on a branch that is not approved, committing and pushing are *proposing*: allowed;
* a commit made directly on an approved branch that changes a production store's folder,
  or its settings in ``.kops-gitsync.yaml``, is refused (``git switch -c`` moves it);
* a merge into an approved branch passes when everything merged in is reviewed (on the
  review remote's approved branches) or a pulled store state; a local branch is refused;
* a push to an approved remote branch is refused when a commit it adds (not a merge)
  changes a production folder: that is what the pull request is for.

Which stores are production, their folders and approved branches come from the config
committed on the approved branch (sync/authority.py), so a commit cannot switch its own
protection off; the staged config can only add folders and production stores to check.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from kops_gitsync.config.repo_config import CONFIG_NAME, RepoConfig, StoreConfig
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import staged
from kops_gitsync.gitrepo.reader import GitReader
from kops_gitsync.hooks.base import HookContext, changed_paths, copy_dir
from kops_gitsync.sync.authority import (
    GUARDED_FIELDS,
    Authority,
    differences,
    load_authority,
    review_remote,
)

GUIDE = "docs/review-flow.md"


class _StagedGit:
    """sync/authority.py's GitReader over the hooks' plain git calls (no GitPython)."""

    def __init__(self, root: Path, reader: GitReader) -> None:
        self.root = root
        self.reader = reader
        self._default: str | None = None
        self._resolved: dict[str, str | None] = {}
        self._config: dict[str, list[str]] | None = None

    def resolve(self, rev: str) -> str | None:
        if rev not in self._resolved:  # the approved branch is asked for more than once
            self._resolved[rev] = staged.resolve(rev, self.root)
        return self._resolved[rev]

    def read_file(self, commit: str | None, path: str) -> bytes | None:
        return self.reader.show(commit, path) if commit else None

    def config_get(self, key: str) -> list[str]:
        """``git config --get-all key``, from one ``git config --list`` read per run (a run
        asks for up to three keys; each was a git process, issue 16)."""
        return [line for v in self._values(key) for line in v.splitlines() if line.strip()]

    def _values(self, key: str) -> list[str]:
        if self._config is None:
            self._config = _config_list(self.root)
        return self._config.get(_config_key(key), [])

    def default_branch(self) -> str:
        """staged.default_branch (origin/HEAD, else init.defaultBranch, else main or master,
        else main), with the config and the branch look-ups shared with the rest of the run."""
        if self._default is None:
            try:
                out = staged.git(["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
                                 self.root)
            except FatalError:
                out = b""
            configured = (self._values("init.defaultBranch") or [""])[-1]  # --get: the last
            if out:
                self._default = out.decode().strip().removeprefix("origin/")
            elif configured.strip():
                self._default = configured.strip()
            else:
                found = (n for n in ("main", "master") if self.resolve(f"refs/heads/{n}"))
                self._default = next(found, "main")
        return self._default


def _config_key(key: str) -> str:
    """A key as ``git config --list`` writes it: section and name in lower case, the
    subsection (``branch.<name>.remote``) as it is."""
    section, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    return ".".join(p for p in (section.lower(), middle, name.lower()) if p)


def _config_list(root: Path) -> dict[str, list[str]]:
    """Every config value by key, in git's order (``--get-all`` order)."""
    try:
        raw = staged.git(["config", "--list", "-z"], root)
    except FatalError:
        return {}
    values: dict[str, list[str]] = {}
    for entry in raw.decode("utf-8", "surrogateescape").split("\0"):
        if entry:
            key, _, value = entry.partition("\n")
            values.setdefault(key, []).append(value)
    return values


@dataclass(frozen=True)
class Guarded:
    """A production store as the approved branch defines it, and every folder to watch."""

    name: str
    store: StoreConfig  # approved_branches/production from the approved branch
    prefixes: tuple[str, ...]
    staged: StoreConfig | None

    def paths(self, paths: list[str]) -> list[str]:
        return sorted(p for p in paths if p.startswith(self.prefixes))

    @property
    def folder(self) -> str:
        return self.store.path.rstrip("/") + "/"


def _authority(ctx: HookContext, git: _StagedGit) -> Authority:
    staged_config = RepoConfig(stores=ctx.layout.stores)

    def parse(raw: bytes, source: Path) -> RepoConfig:
        blob = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()  # git's blob id
        if blob == ctx.reader.index_id(CONFIG_NAME):
            return staged_config  # the staged file: validated (and cached) already
        from kops_gitsync.config.repo_config import parse_repo_config

        return parse_repo_config(raw, source)

    return load_authority(git, review_remote(git), lambda: staged_config, parse)


def _guarded(ctx: HookContext, auth: Authority) -> list[Guarded]:
    """Production per the approved branch, plus stores the staged config makes production."""
    staged_by_name = {s.name: s for s in ctx.layout.stores}
    found = []
    for store in auth.config.stores:
        mine = staged_by_name.get(store.name)
        if store.production or (mine is not None and mine.production):
            paths = {store.path, copy_dir(store.name)} | ({mine.path} if mine else set())
            prefixes = tuple(sorted(p.rstrip("/") + "/" for p in paths))
            found.append(Guarded(store.name, replace(store, production=True), prefixes, mine))
    known = {g.name for g in found} | {s.name for s in auth.config.stores}
    for mine in ctx.layout.stores:
        if mine.production and mine.name not in known:  # new, not approved anywhere yet
            store = replace(mine, approved_branches=())
            prefixes = (mine.path.rstrip("/") + "/", copy_dir(mine.name) + "/")
            found.append(Guarded(mine.name, store, prefixes, mine))
    return found


def _config_changes(guard: Guarded, other: StoreConfig | None) -> list[str]:
    """How ``other`` (the staged or pushed config's entry) changes the store's settings."""
    if other is None:
        return [f"store {guard.name!r} removed or renamed"]
    return differences(other, guard.store, (*GUARDED_FIELDS, "approved_branches"))


def _listing(ctx: HookContext, paths: list[str]) -> None:
    for path in paths[:50]:
        ctx.say(f"  {path}")
    if len(paths) > 50:
        ctx.say(f"  ... and {len(paths) - 50} more")


def _reviewed(ctx: HookContext, auth: Authority, guard: Guarded, commit: str) -> bool:
    """Is ``commit`` on one of the review remote's approved branches, or a store state?"""
    spaces = [staged.OBSERVED_PREFIX] + ([f"refs/remotes/{auth.remote}/"] if auth.remote else [])
    out = staged.git(["for-each-ref", "--format=%(refname)", "--contains", commit, *spaces],
                     ctx.root)
    for ref in out.decode().split():
        if ref.startswith(staged.OBSERVED_PREFIX):
            return True
        branch = ref.removeprefix(f"refs/remotes/{auth.remote}/")
        if branch != "HEAD" and auth.approves(guard.store, branch):
            return True
    return False


def _merge_heads(root: Path) -> list[str]:
    """The commits being merged, ``git pull`` included.

    ``staged.merge_heads`` knows ``git merge`` (GIT_REFLOG_ACTION ``merge <names>``) and a
    conflicted merge being committed (MERGE_HEAD); a ``git pull`` merge names its commits
    only in FETCH_HEAD (the lines not marked ``not-for-merge``) when pre-merge-commit runs.
    """
    heads = staged.merge_heads(root)
    if heads or not os.environ.get("GIT_REFLOG_ACTION", "").startswith("pull"):
        return heads
    out = staged.git(["rev-parse", "--git-path", "FETCH_HEAD"], root).decode().strip()
    path = Path(out) if Path(out).is_absolute() else root / out
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [line.split()[0] for line in lines if line.strip() and "not-for-merge" not in line]


def _propose_hint(auth: Authority, branch: str) -> str:
    remote = auth.remote or "origin"
    return (
        f"Propose it instead: `git switch -c <topic>` (staged changes come along), commit "
        f"there, `git push -u {remote} <topic>` and open a pull request into {branch}. After "
        f"the merge, whoever holds the store credentials runs `kops-gitsync push --yes` from "
        f"{branch}. See {GUIDE}."
    )


def _check_commit(ctx: HookContext, auth: Authority, guards: list[Guarded]) -> int:
    branch = staged.current_branch(ctx.root)
    # What the commit changes. kops-checks (no file list) run by hand or in CI, on the whole
    # repository or a --from-ref range, checks content: a file already committed is no
    # new change of the store, whatever branch it is on.
    paths = changed_paths(ctx) if ctx.files else ctx.staged_paths
    config_touched = CONFIG_NAME in paths
    staged_by_name = {s.name: s for s in ctx.layout.stores}
    failed = False
    for guard in guards:
        touched = guard.paths(paths)
        changes = []
        if config_touched:
            changes = _config_changes(guard, staged_by_name.get(guard.name))
        if not touched and not changes:
            continue
        if branch is None or not auth.approves(guard.store, branch):
            ctx.say(f"note: production store {guard.name!r} ({guard.folder}) changes on "
                    f"{'branch ' + repr(branch) if branch else 'a detached HEAD'}: a proposal. "
                    f"It reaches the store after review merges it into an approved branch "
                    f"({auth.patterns(guard.store)}) and `kops-gitsync push --yes` runs there.")
            continue
        if ctx.head is None and auth.remote is None:
            # The repository's first commit: there is no approved branch yet to review
            # against or to propose into; the gate is push, which needs a review remote.
            ctx.say(f"note: production store {guard.name!r}: first commit of the repository; "
                    f"from now on changes go through review ({GUIDE}).")
            continue
        heads = _merge_heads(ctx.root)
        if heads:
            local = [h for h in heads if not _reviewed(ctx, auth, guard, h)]
            if not local:
                continue  # a merge of reviewed work (git pull) or of a store state
            ctx.say(
                f"production store {guard.name!r} ({guard.folder}): merging "
                f"{', '.join(h[:12] for h in local)} into approved branch {branch!r} here "
                f"skips review: it is not on {auth.remote or 'a review remote'}'s approved "
                "branches. It changes:"
            )
            _listing(ctx, touched + [f"{CONFIG_NAME}: {c}" for c in changes])
            ctx.say(
                f"Abort the merge (`git merge --abort`), push that branch and open a pull "
                f"request into {branch}: the merge on the git host is the review. See {GUIDE}."
            )
            failed = True
            continue
        ctx.say(
            f"production store {guard.name!r} ({guard.folder}) changes only through review, "
            f"and {branch!r} is an approved branch (approved: {auth.patterns(guard.store)}, "
            f"from {auth.where}); this commit changes:"
        )
        _listing(ctx, touched + [f"{CONFIG_NAME}: {c}" for c in changes])
        ctx.say(_propose_hint(auth, branch))
        failed = True
    return 1 if failed else 0


def _new_edits(ctx: HookContext, auth: Authority, remote: str | None, local: str,
               old: str | None) -> list[str]:
    """Paths changed by the non-merge commits a push adds to an approved branch.

    Commits already on the remote's approved branches or on an observed ref (store states,
    what earlier pushes wrote) are not new; merges bring in only what their sides hold.
    """
    excludes = [old] if old and old != staged.ZERO_SHA and staged.resolve(old, ctx.root) else []
    spaces = [staged.OBSERVED_PREFIX] + ([f"refs/remotes/{remote}/"] if remote else [])
    refs = staged.git(["for-each-ref", "--format=%(refname)", *spaces], ctx.root).decode()
    for ref in refs.split():
        branch = ref.removeprefix(f"refs/remotes/{remote}/")
        if ref.startswith(staged.OBSERVED_PREFIX) or any(
            auth.approves(s, branch) for s in auth.config.stores
        ):
            excludes.append(ref)
    raw = staged.git(["log", "--no-merges", "--format=", "--name-only", "-z", "--no-renames",
                      local, "--not", *excludes, "--"], ctx.root)
    return sorted({p for p in raw.replace(b"\n", b"\0").decode("utf-8", "surrogateescape")
                   .split("\0") if p})


def _check_push_ref(ctx: HookContext, auth: Authority, guards: list[Guarded], remote: str | None,
                    branch: str, local: str, old: str | None) -> bool:
    """True when the push of ``local`` to remote ``branch`` must be refused."""
    approved = [g for g in guards if auth.approves(g.store, branch)]
    if not approved:
        return False  # proposing: the pull request is where it gets reviewed
    edits = _new_edits(ctx, auth, remote, local, old)
    failed = False
    for guard in approved:
        touched = guard.paths(edits)
        if CONFIG_NAME in edits:
            raw = ctx.reader.show(local, CONFIG_NAME)
            if raw is not None:
                from kops_gitsync.config.repo_config import parse_repo_config

                pushed = parse_repo_config(raw, Path(f"{local[:12]}:{CONFIG_NAME}"))
                own = next((s for s in pushed.stores if s.name == guard.name), None)
                touched += [f"{CONFIG_NAME}: {c}" for c in _config_changes(guard, own)]
        if not touched:
            continue
        ctx.say(
            f"production store {guard.name!r} ({guard.folder}): pushing to approved branch "
            f"{branch!r} would bypass review; commits not reviewed yet change:"
        )
        _listing(ctx, touched)
        ctx.say(
            f"Push them to a branch of their own instead (`git push {remote or 'origin'} "
            f"HEAD:refs/heads/<topic>`) and open a pull request into {branch}. See {GUIDE}."
        )
        failed = True
    return failed


def run(ctx: HookContext) -> int:
    git = _StagedGit(ctx.root, ctx.reader)
    auth = _authority(ctx, git)
    guards = _guarded(ctx, auth)
    if not guards:
        return 0
    if ctx.stage != "push":
        return _check_commit(ctx, auth, guards)
    if ctx.push_refs:
        # Plain pre-push hook: git gives one line per ref being pushed.
        failed = False
        for ref in ctx.push_refs:
            if ref.deletes or ref.remote_branch is None:
                continue
            if _check_push_ref(ctx, auth, guards, ctx.push_remote, ref.remote_branch,
                               ref.local_sha, ref.remote_sha):
                failed = True
        return 1 if failed else 0
    branch = ctx.push_branch()
    local = os.environ.get("PRE_COMMIT_TO_REF", "")
    if branch is None or not local:
        return 0  # a tag or another kind of ref: no branch to protect
    remote = os.environ.get("PRE_COMMIT_REMOTE_NAME") or ctx.push_remote
    old = os.environ.get("PRE_COMMIT_FROM_REF")
    return 1 if _check_push_ref(ctx, auth, guards, remote, branch, local, old) else 0
