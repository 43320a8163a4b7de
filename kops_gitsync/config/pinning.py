"""A store's mirror folder must not move because another store was added or removed.

A store without ``path:`` is mirrored at ``state/`` when it is the only store and at
``state/<name>/`` when there are several. Adding a second store to a one-store repository
therefore moved the first store's mirror: ``status`` saw every file as deleted and ``pull``
said "up to date", since the store itself had not changed.

Of the two fixes (silently keep the old folder, or refuse and say which line to add) this
refuses: the config stays the one place that says where a store lives, which the hooks,
``validate``, ``install-hooks`` and a reader of the file all rely on. A silently pinned
folder would be known to the sync commands only, and a production store's folder would lose
the hooks' protection the moment a second store was added.

Where a mirror "already is" comes from the committed sync state
(``.kops-gitsync/<store>.json``, keys of the mirrored objects) in HEAD, or, before the first
merge, in the store's observed ref: the folder that holds those keys in that commit.
Everything is read with plain ``git``, so this adds no import to the hooks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kops_gitsync.config.checks import default_path
from kops_gitsync.errors import FatalError

if TYPE_CHECKING:
    from kops_gitsync.config.repo_config import RepoConfig, StoreConfig

OBSERVED_PREFIX = "refs/kops-gitsync/observed/"
STATE_DIR = ".kops-gitsync"
_SAMPLE = 20  # keys looked up per store: enough to tell two folders apart


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def _blob(rev: str, path: str, cwd: Path) -> bytes | None:
    return _git(["cat-file", "blob", f"{rev}:{path}"], cwd)


def _mirrored_keys(rev: str, name: str, cwd: Path) -> list[str] | None:
    """Some object keys the sync state of ``name`` in ``rev`` records, or None."""
    raw = _blob(rev, f"{STATE_DIR}/{name}.json", cwd)
    if raw is None:
        return None
    try:
        objects = json.loads(raw.decode("utf-8", "surrogateescape"))["objects"]
        keys = [str(key) for key in objects]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None  # damaged (or nested too deep): pull and push say so with the fix
    return sorted(keys)[:_SAMPLE]


def _present(rev: str, paths: list[str], cwd: Path) -> set[str]:
    if not paths:
        return set()
    out = _git(["--literal-pathspecs", "ls-tree", "-z", "--name-only", rev, "--", *paths], cwd)
    return {p.decode("utf-8", "surrogateescape") for p in (out or b"").split(b"\0") if p}


def mirror_folder(name: str, candidates: list[str], cwd: Path) -> tuple[str, str] | None:
    """(folder, where recorded) of the candidate holding store ``name``'s mirror, if known.

    HEAD first; the observed ref when HEAD has no sync state for the store yet
    (``pull --no-merge``).
    """
    for rev in ("HEAD", OBSERVED_PREFIX + name):
        keys = _mirrored_keys(rev, name, cwd)
        if not keys:
            continue
        for folder in candidates:
            paths = [f"{folder}/{key}" for key in keys]
            if _present(rev, paths, cwd):
                return folder, rev
        return None
    return None


def default_path_problems(
    names: list[str], store_count: int, cwd: Path
) -> list[tuple[str, str, str]]:
    """(store, default folder, folder its mirror is in) for each defaulted store that moved."""
    moved = []
    for name in names:
        wanted = default_path(name, store_count)
        others = [p for p in ("state", f"state/{name}") if p != wanted]
        found = mirror_folder(name, [wanted, *others], cwd)
        if found is not None and found[0] != wanted:
            moved.append((name, wanted, found[0]))
    return moved


def check_default_paths(config: RepoConfig, repo_root: Path) -> None:
    """Raise FatalError, one line per store, when a defaulted mirror folder would move."""
    names = [s.name for s in config.stores if s.name in config.defaulted_paths]
    if not names:
        return
    moved = default_path_problems(names, len(config.stores), repo_root)
    if moved:
        raise FatalError(describe_moves(config.source, config.lines, config.stores, moved))


def _inside(path: str, folder: str) -> bool:
    a, b = path.strip("/").casefold(), folder.strip("/").casefold()
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def describe_moves(
    source: Path | None,
    lines: Mapping[str, int],
    stores: Sequence[StoreConfig],
    moved: list[tuple[str, str, str]],
) -> str:
    """One line per moved store, ending in what to add (and what else must move out of the
    way: a store pinned at ``state`` leaves no room for ``state/<name>`` defaults)."""
    out = []
    for name, wanted, actual in moved:
        fix = f"add `path: {actual}` to store {name!r}"
        crowded = [s.name for s in stores if s.name != name and _inside(s.path, actual)]
        if crowded:
            others = ", ".join(repr(n) for n in crowded)
            fix += (
                f" and give {others} a `path` outside {actual}/ (like `path: mirror/"
                f"{crowded[0]}`)"
            )
        out.append(
            f"{source}:{lines.get(name, 1)}: store {name!r} has no `path`, so with "
            f"{len(stores)} store(s) it would be mirrored in {wanted}/, but its mirror is in "
            f"{actual}/: {fix}"
        )
    return "\n".join(out)


def state_tree(repo_root: Path) -> str | None:
    """The id of HEAD's sync-state folder: what a cached check of the paths depends on."""
    out = _git(["rev-parse", "-q", "--verify", f"HEAD:{STATE_DIR}"], repo_root)
    return out.decode().strip() if out else None
