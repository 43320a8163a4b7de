"""``file://`` stores: a directory, as kops' ``fs.go`` lays it out.

Writes go to a temporary file in the target's own directory and are renamed into place, so
a reader (kops, or a pull) never sees half an object. The version token is the SHA-256 of
the content, as kops computes it; modification times are never trusted.

Create-if-absent is atomic: the temporary file is hard-linked to the target, which fails if
the target exists. POSIX has no compare-and-swap rename, so replace-if-version and
delete-if-version compare and then act under a lock on the root directory: atomic among
kops-gitsync processes, but not against a concurrent kops writer, hence the capability flags.

Only regular files are objects. A FIFO, socket or device in the store would block the first
``open`` (a pull hung forever on a FIFO), so entries are judged by ``lstat`` without being
opened, and anything else is left out of the listing with a warning naming it; a read opens
with ``O_NONBLOCK | O_NOFOLLOW`` and checks ``fstat`` again, in case the entry was swapped
after the listing. Symbolic links are refused outright: following one out of the store would
mirror (or overwrite) whatever it points at. User metadata has nowhere to go and is dropped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from kops_gitsync.errors import FatalStoreError, ObjectExists, PreconditionFailed
from kops_gitsync.vfs.base import (
    Blob,
    Capabilities,
    ObjectInfo,
    ObjectStat,
    check_metadata,
    read_capped,
)
from kops_gitsync.vfs.keys import check_key, printable

_TMP_PREFIX = ".kops-gitsync-tmp-"
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device"}


def content_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def warn(message: str) -> None:
    print(f"kops-gitsync: warning: {message}", file=sys.stderr, flush=True)


class FileStore:
    capabilities = Capabilities(
        conditional_create=True, conditional_replace=False, conditional_delete=False
    )

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.url = url or f"file://{root}"
        self._mutex = threading.Lock()

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> FileStore:
        path = url[len("file://") :] if url.startswith("file://") else url
        if not path:
            raise FatalStoreError(f"empty path in state store {url!r}")
        return cls(Path(path).expanduser(), url)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            raise FatalStoreError(f"state store directory {self.root} does not exist")
        yield from self._walk(str(self.root), "", prefix)

    def _walk(self, directory: str, rel: str, prefix: str) -> Iterator[ObjectInfo]:
        """Depth-first, sorted, with plain ``os.scandir`` (its d_type answers is_dir and
        is_symlink without a stat per entry, which matters at tens of thousands of files)."""
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            if rel:
                return  # a folder removed while we walked: not in this listing
            raise FatalStoreError(f"state store directory {self.root} disappeared") from None
        for entry in entries:
            key = f"{rel}{entry.name}"
            if entry.is_symlink():
                raise FatalStoreError(
                    f"symbolic link {printable(key)} in the store: "
                    "kops-gitsync does not follow links out of a store"
                )
            if entry.is_dir(follow_symlinks=False):
                sub = key + "/"
                if sub.startswith(prefix) or prefix.startswith(sub):
                    yield from self._walk(entry.path, sub, prefix)
                continue
            if not key.startswith(prefix) or entry.name.startswith(_TMP_PREFIX):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    warn(f"{self.url}: skipped {printable(key)}: {_kind(info.st_mode)} is not "
                         "an object (only regular files are)")
                    continue
                version, size = self._hash_file(entry.path, key)
            except FileNotFoundError:
                continue  # removed while we walked: it is simply not in this listing
            yield ObjectInfo(key=key, size=size, version=version)

    def _open(self, path: str | Path, key: str) -> int:
        """A descriptor on the regular file at ``path``: never blocks, never follows a link."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FatalStoreError(f"{printable(key)} is a symbolic link", key=key) from None
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise FileNotFoundError(key) from None
            raise
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            return fd
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise FileNotFoundError(key)
        raise FatalStoreError(
            f"{printable(key)} in {self.url} is {_kind(mode)}, not a regular file", key=key
        )

    def _hash_file(self, path: str | Path, key: str) -> tuple[str, int]:
        """SHA-256 and size, read in chunks (a huge object must not be held in memory)."""
        fd = self._open(path, key)
        digest = hashlib.sha256()
        size = 0
        try:
            while chunk := os.read(fd, 1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        return digest.hexdigest(), size

    def _inside(self, key: str) -> Path:
        """The key's path, refused if a linked folder on the way leads out of the root."""
        path = self._path(key)
        root, parent = os.path.realpath(self.root), os.path.realpath(path.parent)
        if parent != root and not parent.startswith(root.rstrip(os.sep) + os.sep):
            raise FatalStoreError(
                f"{printable(key)} lies behind a symbolic link out of the store", key=key
            )
        return path

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        fd = self._open(self._inside(key), key)
        try:
            size = os.fstat(fd).st_size
            data = read_capped(lambda n: os.read(fd, n), key, max_bytes, size)
        finally:
            os.close(fd)
        return Blob(data=data, version=content_version(data))

    def stat(self, key: str) -> ObjectStat:
        version, size = self._hash_file(self._inside(key), key)
        return ObjectStat(key, size, version)

    @contextlib.contextmanager
    def _root_lock(self) -> Iterator[None]:
        """Serialise compare-then-act among threads and kops-gitsync processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._mutex:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _require_version(self, path: Path, key: str, expected: str) -> None:
        """Raise unless ``path`` holds version ``expected`` (call under the root lock)."""
        current, _size = self._hash_file(path, key)
        if current != expected:
            raise PreconditionFailed(f"{printable(key)} changed", key=key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        check_metadata(metadata)  # checked like everywhere, then dropped: no place for it
        path = self._inside(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if if_none_match:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ObjectExists(f"{printable(key)} already exists", key=key) from None
            elif if_match is not None:
                with self._root_lock():
                    self._require_version(path, key, if_match)
                    os.replace(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return content_version(data)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._inside(key)
        if if_match is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        with self._root_lock():
            self._require_version(path, key, if_match)
            path.unlink()

    def close(self) -> None:
        pass
