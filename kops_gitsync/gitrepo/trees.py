"""Tree objects read and written without a git process per question.

A push used to ask ``git ls-tree -r`` for each commit it compares (the observed state and
the branch; for a production store, every unreviewed commit and its parents) and to build
the observed commit's tree through a throw-away index (``read-tree``, ``update-index``,
``write-tree``): five processes on every push. Tree objects are named by their content, so
each is read once through the repository's ``cat-file --batch`` and kept for the process
(the trees of a commit and of its parent share all but the changed folders), and a new tree
is written by rewriting only the folders a change passes through, as loose objects: exactly
the bytes ``write-tree`` writes (entries in git's order, canonical modes).

Anything this module does not model exactly (pathspec magic, a path git would refuse, a
file that becomes a folder or the reverse) returns None so the caller asks git instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.blobs import write_loose
from kops_gitsync.gitrepo.gitproc import CatFile

TREE_MODE = b"40000"
# Parsed entries kept before the cache starts again (a daemon keeps its repository
# between passes: at about 150 bytes an entry, with its listing view, some 15 MB at most).
_LIMIT = 100_000

Entry = tuple[bytes, bytes, str]  # raw mode, name, object id
_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_SHOWN: dict[bytes, str] = {}
# Whole listings kept by (tree id, prefix): a push reads its commit's tree more than once.
_LISTINGS = 4
# Above this many entries in the listed folder (clusters of a mirror), one ``ls-tree -r``
# lists faster than walking thousands of tree objects in Python (40,000 files: ~0.2 s
# against ~0.5 s); below it the walk costs less than starting a process.
BIG_FOLDER = 64


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    sha: str


def plain_path(path: str) -> bool:
    """A path that means itself to git and that git would take into an index: no pathspec
    magic, no empty, ``.`` or ``..`` component, nothing git's ``verify_path`` might refuse
    (``.git`` and its NTFS and HFS look-alikes: ``.git.``, ``git~1``, ``.g\u200cit``, a
    ``:``). Anything else is left to git, so a hostile key is refused exactly as before."""
    if not path or path.startswith(("/", ":")) or any(c in path for c in "*?[\\:\n\0"):
        return False
    for part in path.rstrip("/").split("/"):
        lowered = part.lower()
        if part in ("", ".", "..") or lowered.rstrip(". ") in (".git", "git~1"):
            return False
        if lowered.startswith(".") and not part.isascii():
            return False
    return True


def is_tree(mode: bytes) -> bool:
    return mode == TREE_MODE


def shown_mode(mode: bytes) -> str:
    """The mode as ``ls-tree`` prints it (six octal digits)."""
    shown = _SHOWN.get(mode)
    if shown is None:
        shown = _SHOWN[mode] = f"{int(mode, 8):06o}"
    return shown


def canonical(mode: bytes) -> bytes:
    """The mode an index entry gets (git's ``canon_mode``): what ``write-tree`` writes."""
    value = int(mode, 8)
    kind = value & 0o170000
    if kind == 0o040000:
        return TREE_MODE
    if kind in (0o120000, 0o160000):
        return b"%o" % kind
    return b"100755" if value & 0o100 else b"100644"


def parse(data: bytes) -> list[Entry]:
    return [(mode, name, sha.hex()) for mode, name, sha in _ENTRY.findall(data)]


def parse_ls_tree(out: bytes, prefix: str) -> dict[str, TreeEntry]:
    """``ls-tree -r -z --full-tree C -- PREFIX`` output: path below ``prefix`` -> entry."""
    entries: dict[str, TreeEntry] = {}
    cut = len(prefix.rstrip("/")) + 1
    for record in out.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            mode, _kind, sha = meta.decode().split()
            entries[path.decode("utf-8", "surrogateescape")[cut:]] = TreeEntry(mode, sha)
    return entries


def serialise(entries: list[Entry]) -> bytes:
    """A tree object's bytes, entries in git's order (a folder sorts as ``name/``)."""
    ordered = sorted(entries, key=lambda e: e[1] + b"/" if is_tree(e[0]) else e[1])
    return b"".join(b"%s %s\0%s" % (mode, name, bytes.fromhex(sha))
                    for mode, name, sha in ordered)


class Trees:
    """Parsed tree objects by id, for one repository's ``cat-file``."""

    def __init__(self, objects: CatFile, object_dir: Path) -> None:
        self._objects = objects
        self._object_dir = object_dir
        self._parsed: dict[str, list[Entry]] = {}
        self._size = 0
        self._listings: dict[tuple[str, str], dict[str, TreeEntry]] = {}
        # Per tree, what a listing needs: name as text, and a subtree id or a file entry.
        self._views: dict[str, list[tuple[str, str | None, TreeEntry | None]]] = {}

    def load(self, shas: list[str]) -> None:
        """Read and parse every tree of ``shas`` not read yet, in one exchange."""
        missing = list(dict.fromkeys(s for s in shas if s not in self._parsed))
        if not missing:
            return
        if self._size > _LIMIT:
            self._parsed.clear()
            self._views.clear()
            self._size = 0
        for sha, found in zip(missing, self._objects.get_many(missing), strict=True):
            if found is None or found[1] != "tree":
                raise FatalError(f"git has no tree {sha}")
            entries = parse(found[2])
            self._parsed[sha] = entries
            self._size += len(entries) + 1

    def entries(self, sha: str) -> list[Entry]:
        self.load([sha])
        return self._parsed[sha]

    def files(self, root: str, prefix: str,
              ls_tree: Callable[[], dict[str, TreeEntry]]) -> dict[str, TreeEntry]:
        """``ls-tree -r --full-tree ROOT -- PREFIX``: path below ``prefix`` -> entry, in
        git's order (a copy: the caller may change it). ``ls_tree`` runs that command, for
        a folder of more than :data:`BIG_FOLDER` entries."""
        key = (root, prefix)
        if key not in self._listings:
            if len(self._listings) >= _LISTINGS:
                self._listings.clear()
            listing = self._list(root, prefix)
            self._listings[key] = listing if listing is not None else ls_tree()
        return dict(self._listings[key])

    def _list(self, root: str, prefix: str) -> dict[str, TreeEntry] | None:
        where: list[Entry] = self.entries(root)
        parts = [p.encode("utf-8", "surrogateescape") for p in prefix.rstrip("/").split("/")]
        found: Entry | None = None
        for i, part in enumerate(parts):
            found = next((e for e in where if e[1] == part), None)
            if found is None:
                return {}
            if i < len(parts) - 1:
                if not is_tree(found[0]):
                    return {}
                where = self.entries(found[2])
        assert found is not None
        if not is_tree(found[0]):
            return {} if prefix.endswith("/") else {"": TreeEntry(shown_mode(found[0]), found[2])}
        if len(self.entries(found[2])) > BIG_FOLDER:
            return None
        level = [found[2]]
        while level:  # read the whole subtree a level at a time, then walk it in order
            self.load(level)
            level = [e[2] for sha in level for e in self._parsed[sha] if is_tree(e[0])]
        out: dict[str, TreeEntry] = {}
        self._walk(found[2], "", out)
        return out

    def _walk(self, sha: str, at: str, out: dict[str, TreeEntry]) -> None:
        view = self._views.get(sha)
        if view is None:
            view = self._views[sha] = [
                (name.decode("utf-8", "surrogateescape"), child if mode == TREE_MODE else None,
                 None if mode == TREE_MODE else TreeEntry(shown_mode(mode), child))
                for mode, name, child in self._parsed[sha]]
        for name, subtree, entry in view:
            if subtree is not None:
                self._walk(subtree, f"{at}{name}/", out)
            else:
                out[at + name] = entry  # type: ignore[assignment]

    def write(self, root: str | None, changes: Mapping[str, str | None]) -> str | None:
        """The tree ``root`` (None: empty) with each path set to a regular file (blob id)
        or removed (None), written as loose objects; None when a change is one git must
        judge (a path git refuses, a file that becomes a folder or the reverse)."""
        if not all(plain_path(p) and not p.endswith("/") for p in changes):
            return None
        nested: dict[bytes, object] = {}
        for path, sha in changes.items():
            node = nested
            parts = path.encode("utf-8", "surrogateescape").split(b"/")
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    return None  # a file and a folder of the same name
                node = child
            if isinstance(node.get(parts[-1]), dict):
                return None
            node[parts[-1]] = sha
        try:
            tree = self._rewrite(root, nested)
        except _AskGit:
            return None
        return tree or write_loose(self._object_dir, b"", b"tree")

    def _rewrite(self, sha: str | None, changes: dict[bytes, object]) -> str:
        """The rewritten tree's id; "" when nothing is left in it (git drops empty folders)."""
        entries = {e[1]: e for e in self.entries(sha)} if sha is not None else {}
        for name, change in changes.items():
            old = entries.get(name)
            if isinstance(change, dict):
                if old is not None and not is_tree(old[0]):
                    raise _AskGit  # a file becomes a folder
                sub = self._rewrite(old[2] if old is not None else None, change)
                if sub:
                    entries[name] = (TREE_MODE, name, sub)
                else:
                    entries.pop(name, None)
            elif old is not None and is_tree(old[0]):
                raise _AskGit  # a folder removed or replaced by its name
            elif change is None:
                entries.pop(name, None)
            else:
                entries[name] = (b"100644", name, str(change))
        if not entries:
            return ""
        if sha is not None and not changes:
            return sha
        rebuilt = [(canonical(m), n, s) for m, n, s in entries.values()]
        return write_loose(self._object_dir, serialise(rebuilt), b"tree")


class _AskGit(Exception):
    """A change this module does not model: the caller uses git's own index instead."""
