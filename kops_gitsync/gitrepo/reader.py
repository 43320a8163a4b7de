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
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import staged


def _entries(raw: bytes, sha_field: int) -> dict[str, str]:
    """path -> blob id from ``ls-files -s -z`` (sha field 1) or ``ls-tree -r -z`` (2).

    Submodules, trees and the conflict stages of an unmerged path have no bytes to check.
    """
    found: dict[str, str] = {}
    for record in raw.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) < 3 or fields[0] == b"160000":
            continue
        if sha_field == 1 and fields[2] != b"0":
            continue
        if sha_field == 2 and fields[1] != b"blob":
            continue
        found[path.decode("utf-8", "surrogateescape")] = fields[sha_field].decode()
    return found


class GitReader:
    """Read-once access to the index, commit trees and blobs of the repository at ``root``.

    Call :meth:`close` (or use it as a context manager) to end the ``cat-file`` process.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, str] | None = None
        self._trees: dict[str, dict[str, str]] = {}
        self._blobs: dict[str, bytes] = {}
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

    def tree(self, rev: str | None) -> dict[str, str]:
        """Every file of commit ``rev``: path -> blob id (one ``ls-tree -r`` per commit)."""
        if rev is None:
            return {}
        if rev not in self._trees:
            raw = staged.git(["ls-tree", "-r", "-z", "--full-tree", rev], self.root)
            self._trees[rev] = _entries(raw, 2)
        return self._trees[rev]

    def index_blobs(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Staged content of those ``paths`` that are in the index."""
        return self._by_path(self.index, paths)

    def tree_blobs(self, rev: str | None, paths: Iterable[str]) -> dict[str, bytes]:
        """Content of those ``paths`` that commit ``rev`` has (none if ``rev`` is None)."""
        return self._by_path(self.tree(rev), paths)

    def _by_path(self, entries: dict[str, str], paths: Iterable[str]) -> dict[str, bytes]:
        wanted = {path: entries[path] for path in paths if path in entries}
        data = self.blobs(wanted.values())
        return {path: data[sha] for path, sha in wanted.items()}

    def blobs(self, ids: Iterable[str]) -> dict[str, bytes]:
        """Content by blob id, read through the one ``cat-file --batch`` of this reader."""
        missing = sorted({sha for sha in ids if sha not in self._blobs})
        if missing:
            self._read(missing)
        return {sha: self._blobs[sha] for sha in ids}

    def _read(self, ids: list[str]) -> None:
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
        writer = threading.Thread(target=_write, args=(cat.stdin, ids), daemon=True)
        writer.start()
        try:
            for sha in ids:
                header = cat.stdout.readline().split()
                if len(header) != 3:
                    raise FatalError(f"git cat-file: object {sha} is missing")
                size = int(header[2])
                self._blobs[sha] = cat.stdout.read(size)
                cat.stdout.read(1)  # the newline after each object
        finally:
            writer.join()

    def close(self) -> None:
        if self._cat is not None:
            cat, self._cat = self._cat, None
            assert cat.stdin is not None
            cat.stdin.close()
            if cat.stdout is not None:
                cat.stdout.close()
            cat.wait()


def _write(stream: IO[bytes], ids: list[str]) -> None:
    try:
        stream.write("".join(f"{sha}\n" for sha in ids).encode())
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass  # git ended early: the reader reports what is missing
