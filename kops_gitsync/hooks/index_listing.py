"""The index of a hook run, looked up in ``git ls-files -s -z`` text until all of it is needed.

A commit that edits one InstanceGroup looks at a few dozen index entries: its own, the
files of its cluster, the ``<cluster>/config`` files that say where clusters are, the
config file. Turning the whole listing of a 25,000-file repository into a dict cost that
commit about 15 ms of CPU, the largest single piece of work the hook did itself (issue 16).
So ``HookReader`` keeps the text and answers those questions by searching it (each a C-level
``str.find``), and builds the dict only when a caller walks the whole index (``--all``, a
merge) or after enough single look-ups that the dict is the cheaper way.

Same git process, same answers: an entry counts only as a stage-0 record that is not a
submodule, exactly as ``reader._entries`` parses it; a path that merely contains another
path (``a\tb``) is told apart by checking the record's own header.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kops_gitsync.gitrepo import staged
from kops_gitsync.gitrepo.reader import GitReader, _entries

_HEADER = 50  # "100644 <40 hex> 0\t": mode, id and stage before the path of a record
_LOOKUPS = 64  # single look-ups before the whole listing is parsed instead


def _entry(record: str) -> tuple[str, str] | None:
    """(path, blob id) of one ``ls-files -s`` record, or None for a conflicted stage or a
    submodule: the test ``reader._entries`` applies to a parsed listing."""
    if record[48:50] != "0\t" or record.startswith("160000"):
        return None
    return record[_HEADER:], record[7:47]


class HookReader(GitReader):
    """``GitReader`` whose index is parsed only as far as the hook asks."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._raw: bytes | None = None
        self._text: str | None = None
        self._lookups = 0

    def _listing(self) -> str:
        if self._text is None:
            self._raw = staged.git(["ls-files", "-s", "-z"], self.root)
            self._text = self._raw.decode("utf-8", "surrogateescape")
        return self._text

    @property
    def index(self) -> dict[str, str]:
        """Every stage-0 entry (the one ``ls-files -s`` of this run, parsed in full)."""
        if self._index is None:
            self._listing()
            assert self._raw is not None
            self._index = _entries(self._raw, 1)
        return self._index

    def index_id(self, path: str) -> str | None:
        """The blob id ``path`` has in the index, or None (absent, conflicted, a submodule)."""
        if self._index is not None or self._lookups >= _LOOKUPS:
            return self.index.get(path)
        self._lookups += 1
        text = self._listing()
        needle = f"\t{path}\0"
        pos = text.find(needle)
        while pos >= 0:
            found = self._record_id(text, pos, path)
            if found is not None:
                return found
            pos = text.find(needle, pos + 1)
        return None

    @staticmethod
    def _record_id(text: str, tab: int, path: str) -> str | None:
        """The id of the record whose path starts after the tab at ``tab``, if that record is
        ``path`` at stage 0 and no submodule."""
        start = text.rfind("\0", 0, tab) + 1
        entry = _entry(text[start : tab + 1 + len(path)])
        return entry[1] if entry is not None and entry[0] == path else None

    def index_under(self, folders: Iterable[str]) -> dict[str, str]:
        """The entries under any of ``folders`` (repository paths, no trailing slash)."""
        prefixes = sorted({folder.rstrip("/") + "/" for folder in folders})
        if self._index is not None or len(prefixes) > _LOOKUPS:
            inside = tuple(prefixes)
            return {p: sha for p, sha in self.index.items() if p.startswith(inside)}
        found: dict[str, str] = {}
        for prefix in prefixes:
            found.update(self._records_under(prefix))
        return found

    def index_ending(self, suffix: str) -> dict[str, str]:
        """The entries whose path ends with ``suffix`` (``/config``)."""
        if self._index is not None:
            return {p: sha for p, sha in self.index.items() if p.endswith(suffix)}
        text = self._listing()
        found: dict[str, str] = {}
        needle = f"{suffix}\0"
        pos = text.find(needle)
        while pos >= 0:
            end = pos + len(suffix)
            start = text.rfind("\0", 0, pos) + 1
            entry = _entry(text[start:end])
            if entry is not None and entry[0].endswith(suffix):
                found[entry[0]] = entry[1]
            pos = text.find(needle, end + 1)
        return found

    def _records_under(self, prefix: str) -> dict[str, str]:
        """The records from the first whose path starts with ``prefix`` on, for as long as
        paths do: the listing is sorted by path, so that is every one of them."""
        text = self._listing()
        found: dict[str, str] = {}
        needle = f"\t{prefix}"
        pos = text.find(needle)
        while pos >= 0:  # the first hit whose record really starts there
            start = text.rfind("\0", 0, pos) + 1
            if pos - start == _HEADER - 1:
                break
            pos = text.find(needle, pos + 1)
        if pos < 0:
            return found
        start = text.rfind("\0", 0, pos) + 1
        while start < len(text):
            end = text.find("\0", start)
            record = text[start:end]
            if not record[_HEADER:].startswith(prefix):
                break
            entry = _entry(record)
            if entry is not None:
                found[entry[0]] = entry[1]
            start = end + 1
        return found

    def index_blobs(self, paths: Iterable[str], keep: bool = True) -> dict[str, bytes]:
        """Staged content of those ``paths`` that are in the index (looked up one by one)."""
        wanted = {}
        for path in paths:
            sha = self.index_id(path)
            if sha is not None:
                wanted[path] = sha
        data = self.blobs(wanted.values(), keep)
        return {path: data[sha] for path, sha in wanted.items()}
