"""``kops-gitsync log KEY``: who changed one store object, and through which review.

Two sources answer it, and neither needs anything new recorded. The observed history
(``refs/kops-gitsync/observed/<store>``, a single-parent chain) has one commit per store
change that git saw: a pull ("changed in the store", with the store version its sync state
recorded) or a push (its ``Kops-Gitsync-Source`` trailer names the pushed commit, its note
the branch). The live object itself carries ``kops-gitsync-commit`` and
``kops-gitsync-branch`` user metadata when kops-gitsync wrote it last on a scheme that keeps
metadata; any other writer (kops, the console, a copy) replaces the metadata, so its absence
is itself the answer. One ``stat`` per call: the body is never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.messages import TRAILER_OPERATION, TRAILER_SOURCE
from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.keys import key_problem, printable

META_COMMIT = "kops-gitsync-commit"
META_BRANCH = "kops-gitsync-branch"

_PUSHED_FROM = re.compile(r"^Pushed from (\S+) at ([0-9a-f]+)\.", re.MULTILINE)
_MARKS = {"A": "created", "M": "changed", "D": "deleted"}


@dataclass(frozen=True)
class KeyChange:
    """One observed commit that changed the key."""

    commit: str
    date: str
    operation: str  # pull or push (or what a future version records)
    change: str  # created, changed, deleted
    version: str | None  # the store version the observed state recorded for the key
    source: str | None = None  # push: the pushed commit
    branch: str | None = None  # push: the branch it was pushed from

    def describe(self) -> str:
        head = f"{self.date}  {self.commit[:12]}  {self.operation:<4}  {self.change}"
        if self.operation == "push":
            where = f"from {self.branch or '(branch not recorded)'}"
            pushed = f" at {self.source}" if self.source else ""
            return f"{head}: pushed {where}{pushed}"
        version = f" (store version {self.version})" if self.version else ""
        return f"{head} in the store{version}"


def store_key(ctx: SyncContext, given: str) -> str:
    """The store key for what the user typed: a key, or its path in the mirror."""
    key = given.strip()
    prefix = ctx.mirror_path + "/"
    if key.startswith(prefix):
        key = key[len(prefix):]
    problem = key_problem(key)
    if problem:
        raise FatalError(f"{printable(given)!r} is not a store key: {problem}")
    return key


def key_history(ctx: SyncContext, key: str, limit: int) -> list[KeyChange]:
    """The observed commits that changed ``key``, newest first (at most ``limit``)."""
    from kops_gitsync.sync.observed import observed_tip
    from kops_gitsync.sync.pull import load_state

    tip = observed_tip(ctx)
    if tip is None:
        return []
    changes = []
    for commit, date, mark, message in ctx.repo.path_history(
        tip, f"{ctx.mirror_path}/{key}", limit
    ):
        operation = _trailer(message, TRAILER_OPERATION) or "?"
        recorded = load_state(ctx, commit).objects.get(key) if mark != "D" else None
        source = _trailer(message, TRAILER_SOURCE) if operation == "push" else None
        pushed = _PUSHED_FROM.search(message) if operation == "push" else None
        changes.append(KeyChange(
            commit, date, operation, _MARKS.get(mark, "changed"),
            recorded.version if recorded else None,
            source or (pushed.group(2) if pushed else None),
            pushed.group(1) if pushed else None,
        ))
    return changes


def last_writer(store: Store, key: str) -> str:
    """Who wrote the live object last, as far as the store can tell: one ``stat``."""
    try:
        stat = store.stat(key)
    except FileNotFoundError:
        return "not in the store now"
    if not store.capabilities.write_metadata:
        scheme = store.url.split("://", 1)[0]
        return (f"last writer unknown: {scheme}:// keeps no object metadata "
                f"(store version {stat.version})")
    commit = stat.metadata.get(META_COMMIT)
    if not commit:
        return (f"last written by something else (no kops-gitsync metadata; "
                f"store version {stat.version})")
    branch = stat.metadata.get(META_BRANCH) or "(branch not recorded)"
    return f"last written by kops-gitsync from {branch} at {commit} (store version {stat.version})"


def render(ctx: SyncContext, key: str, changes: list[KeyChange], limit: int) -> str:
    lines = [f"{ctx.name} ({ctx.url}): {key}"]
    if not ctx.policy.mirrored(key):
        lines.append("  not mirrored into git (a private key, secret or backup path)")
    elif not changes:
        lines.append("  no observed change in this clone's history (never pulled, or "
                     "unchanged since before it)")
    lines += [f"  {change.describe()}" for change in changes]
    if len(changes) == limit:
        lines.append(f"  (the newest {limit}; -n N for more)")
    lines.append(f"  now: {last_writer(ctx.store, key)}")
    return "\n".join(lines)


def _trailer(message: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}: (\S+)\s*$", message, re.MULTILINE)
    return match.group(1) if match else None


def writer_lines(store: Store, keys: list[str], limit: int = 5) -> list[str]:
    """``status``'s last-writer lines for the first ``limit`` conflicting or store-ahead keys:
    one ``stat`` each, and none at all on a scheme that keeps no metadata (the answer would
    always be "unknown")."""
    if not store.capabilities.write_metadata:
        return []
    shown = list(dict.fromkeys(keys))[:limit]
    lines = [f"  {key}: {last_writer(store, key)}" for key in shown]
    if len(set(keys)) > limit:
        lines.append(f"  (last writer of the first {limit} only; kops-gitsync log KEY for others)")
    return lines
