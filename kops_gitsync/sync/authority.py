"""Which ``.kops-gitsync.yaml`` decides approval: the one committed on the approved branch.

A config read from the working tree, or from the commit being judged, lets a change approve
itself: a branch adds itself to ``approved_branches``, switches ``production`` off, renames
the store or moves its ``path`` in the same commit it wants pushed. So the rule reads the
config where the git host enforces review: the default branch of the review remote
(``origin/main``) when there is one, else the local default branch.

Shared by push and the daemon (GitPython, ``gitrepo/repo.py``) and by the hooks (plain git,
``gitrepo/staged.py``) through :class:`GitReader`, so the rule cannot differ between them.
This module imports neither, and parses YAML only when asked to (hook start-up time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from kops_gitsync.config.repo_config import (
    CONFIG_NAME,
    RepoConfig,
    StoreConfig,
    parse_repo_config,
)

# Fields a change may not alter in the commit it wants pushed: they say which store is
# written, from which folder, and whether review is required at all.
GUARDED_FIELDS = ("state", "path", "production")
# Fields push takes from the config it was started with (what it writes, how much it may
# delete): an uncommitted edit of these must not loosen a push either.
POLICY_FIELDS = ("include", "exclude", "secrets", "max_delete", "push_derived")


class GitReader(Protocol):
    """The four git facts the rule needs (GitRepo has them; the hooks adapt ``staged``)."""

    def resolve(self, rev: str) -> str | None: ...

    def read_file(self, commit: str | None, path: str) -> bytes | None: ...

    def config_get(self, key: str) -> list[str]: ...

    def default_branch(self) -> str: ...


def short_ref(ref: str) -> str:
    for prefix in ("refs/remotes/", "refs/heads/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def review_remote(git: GitReader, branch: str | None = None) -> str | None:
    """The remote where review happens: the upstream of ``branch``, else of the default
    branch, else ``origin``; None when the repository has none of them."""
    for candidate in (branch, git.default_branch()):
        if candidate:
            values = git.config_get(f"branch.{candidate}.remote")
            if values and values[0].strip() not in ("", "."):
                return values[0].strip()
    return "origin" if git.config_get("remote.origin.url") else None


@dataclass(frozen=True)
class Authority:
    """The approved branch's config, and where it was read."""

    default_branch: str
    remote: str | None
    ref: str | None  # refs/remotes/origin/main, refs/heads/main; None: no commit yet
    config: RepoConfig
    from_worktree: bool = False

    @property
    def where(self) -> str:
        branch = short_ref(self.ref) if self.ref else self.default_branch
        if self.from_worktree:
            return f"the working tree's {CONFIG_NAME} ({branch} has none yet)"
        return f"{branch}:{CONFIG_NAME}"

    def store(self, name: str) -> StoreConfig | None:
        return next((s for s in self.config.stores if s.name == name), None)

    def approves(self, store: StoreConfig, branch: str) -> bool:
        return store.approves(branch, self.default_branch)

    def patterns(self, store: StoreConfig) -> str:
        return ", ".join(store.approved_branches or (self.default_branch,))


def load_authority(
    git: GitReader,
    remote: str | None,
    worktree: Callable[[], RepoConfig],
    parse: Callable[[bytes, Path], RepoConfig] = parse_repo_config,
) -> Authority:
    """The config committed on the approved branch (remote-tracking one first).

    Falls back to ``worktree()`` only when the default branch has no commit or no config
    file yet, with every ``approved_branches`` dropped, so only the default branch itself
    is approved. That is safe: with nothing committed on the approved branch there is no
    reviewed decision a change could override, and the fallback cannot approve any branch
    but the default one, whose own content is what a review would merge into; ``production``
    from the working tree can only make the rule stricter, and a production store still has
    to be reachable from the review remote (push checks that separately). Without it a
    brand-new review repository could not push before its first config commit.

    ``parse`` lets the hooks reuse the config they already validated when the bytes match.
    """
    default = git.default_branch()
    refs = ([f"refs/remotes/{remote}/{default}"] if remote else []) + [f"refs/heads/{default}"]
    ref = next((r for r in refs if git.resolve(r) is not None), None)
    raw = git.read_file(ref, CONFIG_NAME) if ref is not None else None
    if raw is not None:
        source = Path(f"{short_ref(ref or default)}:{CONFIG_NAME}")
        return Authority(default, remote, ref, parse(raw, source))
    fallback = worktree()
    stores = tuple(replace(s, approved_branches=()) for s in fallback.stores)
    return Authority(default, remote, ref, replace(fallback, stores=stores), from_worktree=True)


def differences(
    ours: StoreConfig, theirs: StoreConfig, fields: Iterable[str] = GUARDED_FIELDS
) -> list[str]:
    """``field: ours vs theirs`` for every field in which the two store entries differ."""
    return [
        f"{name} ({getattr(ours, name)!r}, approved: {getattr(theirs, name)!r})"
        for name in fields
        if getattr(ours, name) != getattr(theirs, name)
    ]
