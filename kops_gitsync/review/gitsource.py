"""Both sides of a review, read from git only: the store is never opened.

* :func:`range_review`: the mirror of one store at two commits (``main..feature``,
  ``origin/main...HEAD``, ``A B``), every file that differs.
* :func:`pending_review`: what push would write from a branch, planned by push's own
  planner (sync/plan.py) against the newest *observed* store state instead of a live
  listing, so a reviewer or CI job needs no store credentials. ``kops-gitsync push`` shows
  the same review from its live plan (:func:`plan_review`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.review.model import StoreReview, Version, build_review
from kops_gitsync.sync.context import SyncContext, bound_url
from kops_gitsync.sync.plan import Plan, plan_push
from kops_gitsync.vfs.base import Blob, Capabilities, ObjectInfo, ObjectStat

if TYPE_CHECKING:  # sync.push pulls in the whole sync engine; only the verbs need it
    from kops_gitsync.sync.push import Sides


class NoStore:
    """Stands in for the store in a context used only to read git: any use is a bug here,
    and says so instead of contacting a store with credentials CI does not have."""

    capabilities = Capabilities(False, False, False)

    def __init__(self, url: str) -> None:
        self.url = url

    def _refuse(self) -> FatalError:
        return FatalError("kops-gitsync diff reads git only; it does not contact the store")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        raise self._refuse()

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        raise self._refuse()

    def stat(self, key: str) -> ObjectStat:
        raise self._refuse()

    def write(self, key: str, data: bytes, *, if_match: str | None = None,
              if_none_match: bool = False, metadata: Mapping[str, str] | None = None) -> str:
        raise self._refuse()

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        raise self._refuse()

    def close(self) -> None:
        return None


def offline_context(repo: GitRepo, config: StoreConfig) -> SyncContext:
    """A context for reading one store's mirror and observed history, bound to the URL the
    store was pulled from (or its configured ``state:``), with no store client."""
    url = bound_url(repo, config.name) or config.state or ""
    return SyncContext(repo, config, NoStore(url), url)


@dataclass(frozen=True)
class Revisions:
    old: str
    new: str


def parse_range(repo: GitRepo, revs: list[str]) -> Revisions:
    """``A..B`` (A to B), ``A...B`` (their merge base to B, as ``git diff``), ``A B``, or one
    ``A`` (A to HEAD). An empty side means HEAD."""

    def commit(rev: str) -> str:
        found = repo.resolve(rev or "HEAD")
        if found is None:
            raise FatalError(f"unknown revision {rev or 'HEAD'!r} (give commits or branches)")
        return found

    if len(revs) == 2:
        return Revisions(commit(revs[0]), commit(revs[1]))
    if len(revs) != 1:
        raise FatalError("give one range (A..B, A...B) or two revisions (A B)")
    spec = revs[0]
    if "..." in spec:
        left, _, right = spec.partition("...")
        a, b = commit(left), commit(right)
        base = repo.merge_base(a, b)
        if base is None:
            raise FatalError(f"{spec}: the two sides have no common history")
        return Revisions(base, b)
    if ".." in spec:
        left, _, right = spec.partition("..")
        return Revisions(commit(left), commit(right))
    return Revisions(commit(spec), commit("HEAD"))


def _mirror(repo: GitRepo, commit: str, prefix: str) -> dict[str, str]:
    return {k: f"{e.mode} {e.sha}" for k, e in repo.read_tree(commit, prefix).items()}


def range_review(ctx: SyncContext, revs: Revisions) -> StoreReview:
    """Every mirrored object of ``ctx``'s store that differs between two commits."""
    repo = ctx.repo
    old = _mirror(repo, revs.old, ctx.mirror_path)
    new = _mirror(repo, revs.new, ctx.mirror_path)
    entries = []
    for key in set(old) | set(new):
        if old.get(key) == new.get(key):
            continue
        entries.append((key, _version(repo, old.get(key)), _version(repo, new.get(key))))
    return build_review(ctx.name, ctx.url, revs.old, revs.new, entries)


def _version(repo: GitRepo, entry: str | None) -> Version | None:
    if entry is None:
        return None
    mode, sha = entry.split()
    if mode in ("120000", "160000"):  # not an object a store can hold; compare by name
        return Version(hashlib.sha256(entry.encode()).hexdigest(), None)
    return Version.of(repo.read_blob(sha))


def pending_review(ctx: SyncContext, branch: str | None) -> StoreReview:
    """What push would write from ``branch`` (default: the current one) if the store still
    holds its newest observed state."""
    from kops_gitsync.sync.observed import observed_tip
    from kops_gitsync.sync.pull import load_state
    from kops_gitsync.sync.push import gather_sides

    sides = gather_sides(ctx, branch, check_approval=False)
    tip = observed_tip(ctx)
    live = load_state(ctx, tip).versions() if tip else {}
    plan = plan_push(sides.base, sides.ours, live, sides.known, ctx.policy.pushable)
    return plan_review(ctx, sides, plan)


def plan_review(ctx: SyncContext, sides: Sides, plan: Plan) -> StoreReview:
    """The semantic review of a push plan: old content is the base state the plan expects
    in the store, new content is the pushed commit's blob."""
    repo = ctx.repo
    finder = _BaseContent(ctx, sides)
    entries = []
    for action in plan.actions:
        blob = sides.blobs.get(action.key)
        new = Version.of(repo.read_blob(blob)) if blob else None
        entries.append((action.key, finder.version(action.key), new))
    review = build_review(ctx.name, ctx.url, sides.base_commit, sides.commit, entries)
    review.conflicts = [{"key": c.key, "reason": c.reason} for c in plan.conflicts]
    review.not_pushed = list(plan.not_pushable)
    return review


class _BaseContent:
    """The bytes behind a base version: in the base commit's mirror, or, for an object an
    earlier push wrote, in the newer observed commit that recorded that push."""

    def __init__(self, ctx: SyncContext, sides: Sides) -> None:
        self.ctx = ctx
        self.sides = sides
        self._trees: dict[str, dict[str, str]] = {}
        chain = ctx.repo.first_parent_chain(sides.observed_tip)
        cut = chain.index(sides.base_commit) if sides.base_commit in chain else len(chain)
        self.commits = [sides.base_commit, *reversed(chain[:cut])]

    def version(self, key: str) -> Version | None:
        recorded = self.sides.base.get(key)
        if recorded is None:
            return None
        for commit in self.commits:
            tree = self._trees.get(commit)
            if tree is None:
                tree = self._trees[commit] = _mirror(self.ctx.repo, commit, self.ctx.mirror_path)
            entry = tree.get(key)
            if entry is None:
                continue
            found = _version(self.ctx.repo, entry)
            if found is not None and found.sha256 == recorded.sha256:
                return found
        return Version(recorded.sha256, None)  # withheld from git: fingerprint only
