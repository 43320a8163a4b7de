"""Checks the JSON Schema cannot express, run on every store entry of ``.kops-gitsync.yaml``.

* Mirror paths: git refuses (or, on case-insensitive and NTFS file systems, silently
  aliases) ``.git``, ``.GIT``, ``git~1``, ``.git.`` and names with ignorable Unicode in
  them, and reads ``:``/``*``/``?``/``[`` in a pathspec as magic; a mirror folder under such a
  name would either write into git's own files or never match what the hooks look up. Every
  component starting with ``.git`` is refused too (``.gitattributes``, ``.github``): they
  belong to git and forges, never to a kops store.
* Patterns: ``include``/``exclude`` are compiled by pathspec's gitwildmatch and
  ``approved_branches`` by fnmatch only when a pull, push or hook first uses them, where a
  bad one (``[z-a]``) was a traceback. Each is compiled here, once, at load.
* Numbers: ``interval: .nan`` passes every JSON Schema comparison (NaN compares false).
* Store names: a repeated name is called a duplicate, whatever the paths say.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable
from typing import Any

from kops_gitsync.config.schema import FORMS, show

# path in the document, point at the key (not the value), message
Problem = tuple[tuple[Any, ...], bool, str]

# Code points HFS+ ignores in file names (git's is_hfs_dotgit() skips the same ones).
_HFS_IGNORABLE = frozenset(
    "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)
_NTFS_SHORT_GIT = re.compile(r"git~[0-9]+")
_PATHSPEC_MAGIC = frozenset("*?[")
TOOL_DIR = ".kops-gitsync"


def default_path(name: str, store_count: int) -> str:
    """Where a store without ``path:`` is mirrored."""
    return "state" if store_count == 1 else f"state/{name}"


def _git_special(part: str) -> bool:
    folded = "".join(c for c in part if c not in _HFS_IGNORABLE).casefold().rstrip(". ")
    return folded.startswith(".git") or _NTFS_SHORT_GIT.fullmatch(folded) is not None


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a mirror folder, or None."""
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "contains a backslash or a control character"
    if path.startswith("/"):
        return "is absolute"
    parts = path.removesuffix("/").split("/")
    for part in parts:
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' component (or names the repository root)"
        if _git_special(part):
            return f"has the component {part!r}, a name git keeps for itself (.git*, git~1)"
        if part.startswith(":") or _PATHSPEC_MAGIC.intersection(part):
            return f"has the component {part!r}, which git would read as a pathspec pattern"
    if parts[0].casefold().rstrip(". ") == TOOL_DIR:
        return f"is {TOOL_DIR}/, where the sync state lives"
    return None


def gitwildmatch_problem(pattern: str) -> str | None:
    import pathspec

    if pattern.startswith("#"):
        return "starts with '#', which gitignore syntax reads as a comment (write \\# for a #)"
    try:
        spec = pathspec.PathSpec.from_lines("gitwildmatch", [pattern])
        spec.match_file("cluster/config")
    except (ValueError, re.error, TypeError) as exc:
        return f"is not a gitignore-style pattern ({exc})"
    return None


def fnmatch_problem(pattern: str) -> str | None:
    try:
        re.compile(fnmatch.translate(pattern))
    except (ValueError, re.error) as exc:
        return f"is not an fnmatch pattern ({exc})"
    return None


_PATTERN_CHECKS: dict[str, Callable[[str], str | None]] = {
    "include": gitwildmatch_problem,
    "exclude": gitwildmatch_problem,
    "approved_branches": fnmatch_problem,
}


def _entry_problems(index: int, entry: dict[Any, Any]) -> list[Problem]:
    problems: list[Problem] = []
    at = ("stores", index)
    path = entry.get("path")
    if isinstance(path, str) and path:
        reason = path_problem(path)
        if reason is not None:
            problems.append(
                (
                    (*at, "path"),
                    False,
                    f"{show(path)} {reason}: a mirror path must be a relative folder inside "
                    "the repository, not its root, .git or .kops-gitsync (kops would read "
                    f".git/config as a cluster); expected {FORMS['path']}",
                )
            )
    for key, check in _PATTERN_CHECKS.items():
        patterns = entry.get(key)
        if not isinstance(patterns, list):
            continue
        for n, pattern in enumerate(patterns):
            if isinstance(pattern, str) and pattern:
                reason = check(pattern)
                if reason is not None:
                    problems.append(((*at, key, n), False, f"{show(pattern)} {reason}"))
    problems.extend(_age_problems(at, entry))
    interval = entry.get("interval")
    if isinstance(interval, float) and not math.isfinite(interval):
        problems.append(
            ((*at, "interval"), False, f"{interval} is not allowed; expected {FORMS['interval']}")
        )
    return problems


def _age_problems(at: tuple[Any, ...], entry: dict[Any, Any]) -> list[Problem]:
    """``secrets: encrypt`` needs recipients, each an age public key (not a secret key)."""
    from kops_gitsync.backup.age import recipient_problem

    recipients = entry.get("age_recipients")
    problems: list[Problem] = []
    if entry.get("secrets") == "encrypt" and not recipients:
        problems.append(((*at, "secrets"), False, "`encrypt` needs `age_recipients`: "
                         f"{FORMS['age_recipients']}"))
    if isinstance(recipients, list):
        for n, text in enumerate(recipients):
            if isinstance(text, str) and text:
                reason = recipient_problem(text)
                if reason is not None:
                    problems.append(((*at, "age_recipients", n), False,
                                     f"{show(text[:20])} {reason}"))
    return problems


def store_problems(
    entries: list[Any], line_of: Callable[[tuple[Any, ...]], int]
) -> list[Problem]:
    """Every problem of the store list the schema cannot see (entries may be malformed)."""
    problems: list[Problem] = []
    first_of: dict[str, int] = {}
    folders: list[tuple[str, str, int, str]] = []  # (casefolded path, path, index, name)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        problems.extend(_entry_problems(index, entry))
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in first_of:
            where = ("stores", first_of[name], "name")
            problems.append(
                (
                    ("stores", index, "name"),
                    False,
                    f"duplicate store name {name!r} (first used on line {line_of(where)}); "
                    "store names must be unique: each names an observed ref and a sync state",
                )
            )
            continue
        first_of[name] = index
        path = entry.get("path")
        if path is None:
            path = default_path(name, len(entries))
        if isinstance(path, str) and path_problem(path) is None:
            plain = path.removesuffix("/")
            folders.append((plain.casefold(), plain, index, name))
    for n, (a, shown, index, name) in enumerate(folders):
        for b, other_shown, _other_index, other in folders[:n]:
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                problems.append(
                    (
                        ("stores", index, "path") if "path" in entries[index] else
                        ("stores", index),
                        False,
                        f"stores {other!r} and {name!r} mirror overlapping folders "
                        f"{other_shown!r} and {shown!r}; give each store its own `path`",
                    )
                )
    return problems
