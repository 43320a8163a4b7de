"""Writing blobs without a process per blob and without holding them all."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import zlib
from pathlib import Path
from types import TracebackType

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import gitproc


def write_loose(objects: Path, data: bytes, kind: bytes = b"blob") -> str:
    """One object (a blob unless ``kind`` says otherwise) as a loose object under
    ``objects`` (what ``git hash-object -w`` does)."""
    header = b"%s %d\0" % (kind, len(data))
    digest = hashlib.sha1(header)
    digest.update(data)  # not header + data: that copy is the size of the sync state
    sha = digest.hexdigest()
    path = objects / sha[:2] / sha[2:]
    if path.exists():
        return sha
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            packer = zlib.compressobj(1)
            handle.write(packer.compress(header))
            handle.write(packer.compress(data))
            handle.write(packer.flush())
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return sha


class BlobWriter:
    """Blobs stored as they arrive, so a pull never holds the store's bodies at once.

    The first few become loose objects when the writer closes (an incremental pull: no
    process); from the 32nd on, everything streams into one ``git fast-import`` (one pack,
    not thousands of files). Object ids are computed here (they are defined by the bytes), so
    no marks file is needed. On an error the stream is still ended cleanly: the blobs are
    unreachable and ``git gc`` collects them, and fast-import leaves no crash report.
    """

    THRESHOLD = 32

    def __init__(self, root: Path, objects: Path) -> None:
        self.root = root
        self.objects = objects
        self._waiting: list[bytes] = []
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(failed=kind is not None)

    def add(self, data: bytes) -> str:
        digest = hashlib.sha1(b"blob %d\0" % len(data))
        digest.update(data)
        sha = digest.hexdigest()
        if self._proc is None:
            self._waiting.append(data)
            if len(self._waiting) < self.THRESHOLD:
                return sha
            self._proc = gitproc.spawn(
                ["fast-import", "--quiet", "--done"], self.root, stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            waiting, self._waiting = self._waiting, []
            for body in waiting:
                self._send(body)
        else:
            self._send(data)
        return sha

    def _send(self, data: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(b"blob\ndata %d\n" % len(data))
            self._proc.stdin.write(data)
            self._proc.stdin.write(b"\n")
        except BrokenPipeError:
            pass  # close() reports fast-import's own message

    def close(self, failed: bool = False) -> None:
        if self._proc is None:
            waiting, self._waiting = self._waiting, []
            if not failed:
                for body in waiting:
                    write_loose(self.objects, body)
            return
        proc, self._proc = self._proc, None
        assert proc.stdin is not None and proc.stderr is not None
        try:
            proc.stdin.write(b"done\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        stderr = proc.stderr.read()
        proc.stderr.close()
        if proc.wait() != 0 and not failed:
            raise FatalError(f"git fast-import failed: {stderr.decode(errors='replace')}")
