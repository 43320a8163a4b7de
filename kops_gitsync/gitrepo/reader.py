"""The index, trees and blobs a hook run reads, each read once per process.

A hook on a 1,000-cluster repository used to start ``git ls-files``, ``ls-tree`` and
``cat-file`` per cluster, so its cost grew with the clusters it judged (and again with
every batch pre-commit split the file list into). Here a run asks git for the whole index
once (``ls-files -s``), for each tree it compares with once (``ls-tree -r``), and reads
every blob through one long-lived ``git cat-file --batch``: the number of git processes
no longer depends on how many clusters or files a run looks at. Blob ids also let a hook
compare content without reading it (an untouched file has the id its store state has).

Plain ``git`` subprocesses, like ``staged.py``: GitPython's import alone costs more than a
whole hook run.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import staged


def _entries(raw: bytes, sha_field: int) -> dict[str, str]:
    """path -> blob id from ``ls-files -s -z`` (sha field 1) or ``ls-tree -r -z`` (2).

    Submodules, trees and the conflict stages of an unmerged path have no bytes to check.
    Parsed by position (every mode git writes is six digits, every id 40 hex digits): this
    runs over every index entry of a 25,000-file repository on each commit.
    """
    records = raw.decode("utf-8", "surrogateescape").split("\0")
    if sha_field == 1:  # "100644 <sha> 0\t<path>"
        return {
            r[50:]: r[7:47] for r in records if r[48:50] == "0\t" and not r.startswith("160000")
        }
    return {r[53:]: r[12:52] for r in records if r[7:12] == "blob "}  # "100644 blob <sha>\t<path>"


class GitReader:
    """Read-once access to the index, commit trees and blobs of the repository at ``root``.

    Call :meth:`close` (or use it as a context manager) to end the ``cat-file`` process.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, str] | None = None
        self._trees: dict[str, dict[str, str]] = {}
        self._blobs: dict[str, bytes | None] = {}  # by id or rev:path; None: not a file
        self._cat: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GitReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def index(self) -> dict[str, str]:
        """Every stage-0 index entry: repository path -> blob id (one ``ls-files -s``)."""
        if self._index is None:
            self._index = _entries(staged.git(["ls-files", "-s", "-z"], self.root), 1)
        return self._index

    def tree(self, rev: str | None, under: Sequence[str] = ()) -> dict[str, str]:
        """The files of commit ``rev`` (only those under the folders ``under``, if given):
        path -> blob id, one ``ls-tree -r`` per commit and folder list."""
        if rev is None:
            return {}
        key = "\0".join([rev, *under])
        if key not in self._trees:
            args = ["--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", rev]
            raw = staged.git([*args, "--", *under], self.root)
            self._trees[key] = _entries(raw, 2)
        return self._trees[key]

    def show(self, rev: str, path: str) -> bytes | None:
        """The file ``path`` of commit ``rev``, or None: a ``rev:path`` request to the same
        ``cat-file --batch``, so reading one file of a commit starts no process."""
        if "\n" in path or "\n" in rev:
            return staged.tree_blobs(rev, [path], self.root).get(path)
        name = f"{rev}:{path}"
        if name not in self._blobs:
            self._read([name])
        return self._blobs[name]

    def index_blobs(self, paths: Iterable[str], keep: bool = True) -> dict[str, bytes]:
        """Staged content of those ``paths`` that are in the index."""
        return self.pick(self.index, paths, keep)

    def tree_blobs(self, rev: str | None, paths: Iterable[str]) -> dict[str, bytes]:
        """Content of those ``paths`` that commit ``rev`` has (none if ``rev`` is None)."""
        return self.pick(self.tree(rev), paths)

    def pick(
        self, entries: dict[str, str], paths: Iterable[str], keep: bool = True
    ) -> dict[str, bytes]:
        """Content of those ``paths`` that ``entries`` (an index or tree listing) has."""
        wanted = {path: entries[path] for path in paths if path in entries}
        data = self.blobs(wanted.values(), keep)
        return {path: data[sha] for path, sha in wanted.items()}

    def blobs(self, ids: Iterable[str], keep: bool = True) -> dict[str, bytes]:
        """Content by blob id, read through the one ``cat-file --batch`` of this reader.

        ``keep=False`` reads without keeping the bytes for a later call: a scan of every
        file then holds one batch at a time, not the whole repository.
        """
        ids = list(ids)
        missing = sorted({sha for sha in ids if sha not in self._blobs})
        read = self._read(missing, keep) if missing else {}
        found = {}
        for sha in ids:
            data = read[sha] if sha in read else self._blobs[sha]
            if data is None:
                raise FatalError(f"git cat-file: object {sha} is missing")
            found[sha] = data
        return found

    def _read(self, names: list[str], keep: bool = True) -> dict[str, bytes | None]:
        if self._cat is None:
            self._cat = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        cat = self._cat
        assert cat.stdin is not None and cat.stdout is not None
        # Requests go in from a thread while the answers are read here: written all at once,
        # a large request would fill the pipe git answers into and both sides would wait.
        writer = threading.Thread(target=_write, args=(cat.stdin, names), daemon=True)
        writer.start()
        read: dict[str, bytes | None] = {}
        try:
            for name in names:
                header = cat.stdout.readline().split()
                if len(header) != 3:  # "<name> missing" (or git ended: "")
                    if not header:
                        raise FatalError(f"git cat-file ended before reading {name}")
                    read[name] = None
                    continue
                data = cat.stdout.read(int(header[2]))
                cat.stdout.read(1)  # the newline after each object
                read[name] = data if header[1] == b"blob" else None
        finally:
            writer.join()
        if keep:
            self._blobs.update(read)
        return read

    def close(self) -> None:
        if self._cat is not None:
            cat, self._cat = self._cat, None
            assert cat.stdin is not None
            cat.stdin.close()
            if cat.stdout is not None:
                cat.stdout.close()
            cat.wait()


def _write(stream: IO[bytes], names: list[str]) -> None:
    try:
        stream.write("".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape"))
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass  # git ended early: the reader reports what is missing
