"""``file://`` stores: a directory, as kops' ``fs.go`` lays it out.

Writes go to a temporary file in the target's own directory and are renamed into place, so
a reader (kops, or a pull) never sees half an object. The version token is the SHA-256 of
the content, as kops computes it; modification times are never trusted.

Create-if-absent is atomic: the temporary file is hard-linked to the target, which fails if
the target exists. POSIX has no compare-and-swap rename, so replace-if-version and
delete-if-version compare and then act under a lock on the root directory: atomic among
kops-gitsync processes, but not against a concurrent kops writer, hence the capability flags.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from kops_gitsync.errors import FatalStoreError, ObjectExists, PreconditionFailed
from kops_gitsync.vfs.base import Blob, Capabilities, ObjectInfo
from kops_gitsync.vfs.keys import check_key, printable

_TMP_PREFIX = ".kops-gitsync-tmp-"


def content_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
            if entry.is_dir():
                sub = key + "/"
                if sub.startswith(prefix) or prefix.startswith(sub):
                    yield from self._walk(entry.path, sub, prefix)
                continue
            if not key.startswith(prefix) or entry.name.startswith(_TMP_PREFIX):
                continue
            try:
                with open(entry.path, "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                continue  # removed while we walked: it is simply not in this listing
            yield ObjectInfo(key=key, size=len(data), version=content_version(data))

    def read(self, key: str) -> Blob:
        path = self._path(key)
        if path.is_symlink():
            raise FatalStoreError(f"{printable(key)} is a symbolic link", key=key)
        try:
            data = path.read_bytes()
        except IsADirectoryError:
            raise FileNotFoundError(key) from None
        return Blob(data=data, version=content_version(data))

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
        try:
            current = content_version(path.read_bytes())
        except FileNotFoundError:
            raise FileNotFoundError(key) from None
        if current != expected:
            raise PreconditionFailed(f"{printable(key)} changed", key=key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        path = self._path(key)
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
        path = self._path(key)
        if if_match is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        with self._root_lock():
            self._require_version(path, key, if_match)
            path.unlink()

    def close(self) -> None:
        pass
