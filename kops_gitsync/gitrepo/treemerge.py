"""A three-way merge of trees that no file in the repository can steer.

``git merge`` takes its merge rules from ``.gitattributes`` files in the trees it merges, so a
store object named ``.gitattributes`` (or a hand-committed one under the mirror) could turn a
conflict into ``merge=union`` and ship both values. Here the caller decides how each path is
merged: ``read-tree -m`` in a private index settles every path only one side changed, and the
caller's ``resolve`` callback gets the three blobs of every other path. The base is a tree
the caller chooses, which is what lets pull merge store states against what a branch already
pushed (see sync/observed.py). The user's index and working tree are untouched until
:func:`advance_head`, which moves HEAD like a fast-forward checkout and refuses to clobber.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.gitrepo.trees import TREE_MODE

# (path, base blob, ours blob, theirs blob) -> merged blob, None to delete, or Conflict
Resolver = Callable[[str, str | None, str | None, str | None], "str | Conflict | None"]


@dataclass(frozen=True)
class Conflict:
    path: str
    reason: str


@dataclass(frozen=True)
class TreeMerge:
    tree: str | None  # None when there are conflicts
    conflicts: tuple[Conflict, ...] = ()


def merge_trees(repo: GitRepo, base: str, ours: str, theirs: str, resolve: Resolver) -> TreeMerge:
    """Merge tree-ish ``theirs`` into ``ours`` against ``base`` (all tree or commit ids).

    In-process when every path that differs is a regular file (mode 100644) on each side
    that has it and no path is a file on one side and a folder on another (a pull's
    mirror): the same rules as ``read-tree -m --aggressive`` (a path both sides hold alike,
    or one side left as the base had it, takes the other side), the same resolver calls in
    the same order, and the tree written in-process as ``write-tree`` writes it; four git
    processes fewer per merging pull. Anything else goes through git's index as before.
    """
    found = _differing_files(repo, *(repo.tree_of(t) for t in (base, ours, theirs)))
    if found is not None:
        changes, unmerged = found
        conflicts: list[Conflict] = []
        for path, (b, o, t) in sorted(unmerged.items()):
            outcome = resolve(path, b, o, t)
            if isinstance(outcome, Conflict):
                conflicts.append(outcome)
            else:
                changes[path] = outcome
        if conflicts:
            return TreeMerge(None, tuple(conflicts))
        return TreeMerge(repo.build_tree(ours, changes) if changes else repo.tree_of(ours))
    return _merge_in_index(repo, base, ours, theirs, resolve)


_FILE = b"100644"
Sides = tuple[str | None, str | None, str | None]  # base, ours, theirs blob ids


def _differing_files(
    repo: GitRepo, base: str, ours: str, theirs: str
) -> tuple[dict[str, str | None], dict[str, Sides]] | None:
    """Trees ``base``/``ours``/``theirs`` compared, descending only where they differ:
    (what to change in ``ours``: path -> blob or None, the paths to resolve), or None when
    a differing entry is not a plain file (git must judge modes, links, file/folder)."""
    changes: dict[str, str | None] = {}
    unmerged: dict[str, Sides] = {}

    def walk(trees: tuple[str | None, str | None, str | None], at: str) -> bool:
        sides = [{e[1]: e for e in repo.tree_entries(t)} if t else {} for t in trees]
        for name in sorted(set().union(*sides)):
            entries = [side.get(name) for side in sides]
            ids = [e[2] if e is not None else None for e in entries]
            modes = {e[0] for e in entries if e is not None}
            if ids[1] == ids[2] and entries[1] == entries[2]:
                continue  # both sides alike (or both removed): ours stands
            path = at + name.decode("utf-8", "surrogateescape")
            if modes == {TREE_MODE}:
                if not walk((ids[0], ids[1], ids[2]), path + "/"):
                    return False
                continue
            if modes != {_FILE}:
                return False
            b, o, t = ids
            if b == o:
                changes[path] = t  # only theirs changed it (None: removed)
            elif b != t:
                unmerged[path] = (b, o, t)
        return True

    return (changes, unmerged) if walk((base, ours, theirs), "") else None


def _merge_in_index(repo: GitRepo, base: str, ours: str, theirs: str,
                    resolve: Resolver) -> TreeMerge:
    """The merge through git's ``read-tree -m`` in a private index."""
    fd, index_path = tempfile.mkstemp(prefix="kops-gitsync-merge-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(index_path)
    env = {"GIT_INDEX_FILE": index_path}
    try:
        repo._run(["read-tree", "-m", "-i", "--aggressive", base, ours, theirs], b"", env)
        listing = repo._run(["ls-files", "-u", "-z"], b"", env)
        stages: dict[str, dict[int, str]] = {}
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, raw_path = record.split(b"\t", 1)
            _mode, sha, stage = meta.decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            stages.setdefault(path, {})[int(stage)] = sha
        conflicts: list[Conflict] = []
        records: list[str] = []
        for path, by_stage in sorted(stages.items()):
            outcome = resolve(path, by_stage.get(1), by_stage.get(2), by_stage.get(3))
            if isinstance(outcome, Conflict):
                conflicts.append(outcome)
                continue
            records.append(f"0 {'0' * 40}\t{path}")
            if outcome is not None:
                records.append(f"100644 {outcome}\t{path}")
        if conflicts:
            return TreeMerge(None, tuple(conflicts))
        if records:
            payload = ("\0".join(records) + "\0").encode("utf-8", "surrogateescape")
            repo._run(["update-index", "-z", "--index-info"], payload, env)
        tree = repo._run(["write-tree"], b"", env).decode().strip()
        return TreeMerge(tree)
    finally:
        if os.path.exists(index_path):
            os.unlink(index_path)


def advance_head(repo: GitRepo, old: str, new: str, reason: str) -> None:
    """Move the checked-out branch from ``old`` to ``new`` and update index and files.

    A two-tree ``read-tree -m -u`` is the checkout git does on a branch switch: it keeps
    unrelated local changes and refuses to overwrite any. If writing files fails part-way
    (a read-only folder, a full disk), the files it did write are put back from HEAD, so
    the working tree is as it was and the next run can simply try again.
    """
    try:
        repo._run(["read-tree", "-m", "-u", old, new], b"")
    except FatalError as exc:
        # Which paths to put back is only needed on failure: the trees have not changed.
        changed = repo._run(["diff-tree", "-r", "-z", "--name-only", old, new], b"")
        paths = [p.decode("utf-8", "surrogateescape") for p in changed.split(b"\0") if p]
        _restore(repo, old, paths)
        raise FatalError(
            f"could not update the working tree ({str(exc).strip()}); the branch and the files "
            "were left as they were, nothing was lost: fix the cause and run the command again"
        ) from None
    repo.update_ref("HEAD", new, old, reason)


def _restore(repo: GitRepo, old: str, paths: list[str]) -> None:
    """Put ``paths`` back as the index (still ``old``'s) has them; remove ones it lacks."""
    if not paths:
        return
    listing = repo._run(["ls-tree", "-r", "-z", "--name-only", "--full-tree", old], b"")
    tracked = {p.decode("utf-8", "surrogateescape") for p in listing.split(b"\0") if p}
    keep = [p for p in paths if p in tracked]
    if keep:
        payload = ("\0".join(keep) + "\0").encode("utf-8", "surrogateescape")
        # on failure the caller's message says what failed; nothing more can be done here
        with contextlib.suppress(FatalError):
            repo._run(["checkout-index", "-f", "-z", "--stdin"], payload)
    for path in paths:
        if path not in tracked:
            with contextlib.suppress(OSError):
                (repo.root / path).unlink()
