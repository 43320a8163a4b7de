"""``memfs://`` stores: in process, for tests and dry runs.

Stores with the same URL share one tree for the life of the process, so a test can seed a
store, run a pull through the CLI entry point, and inspect the result. Versions are a
process-wide generation counter (like GCS), so rewriting identical bytes still yields a new
version: the sync code must not confuse "new version" with "new content". Every
precondition is checked under one mutex, so all three capabilities are genuine. User
metadata is accepted and dropped (``write_metadata`` is False), as on file://.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping

from kops_gitsync.errors import FatalStoreError, ObjectExists, ObjectTooLarge, PreconditionFailed
from kops_gitsync.vfs.base import Blob, Capabilities, ObjectInfo, ObjectStat, check_metadata
from kops_gitsync.vfs.keys import check_key

_TREES: dict[str, dict[str, Blob]] = {}
_LOCK = threading.RLock()
_GENERATION = itertools.count(1)


class MemoryStore:
    capabilities = Capabilities(
        conditional_create=True, conditional_replace=True, conditional_delete=True
    )

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url.rstrip("/")
        with _LOCK:
            if create:
                _TREES.setdefault(self.url, {})
            elif self.url not in _TREES:
                raise FatalStoreError(f"no memfs store at {self.url}")

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> MemoryStore:
        if url.rstrip("/") == "memfs:/":
            raise FatalStoreError("memfs:// needs a name, e.g. memfs://clusters.example.com")
        return cls(url)

    @classmethod
    def reset(cls, url: str | None = None) -> None:
        """Forget one tree (or all): for test isolation."""
        with _LOCK:
            if url is None:
                _TREES.clear()
            else:
                _TREES.pop(url.rstrip("/"), None)

    def _tree(self) -> dict[str, Blob]:
        tree = _TREES.get(self.url)
        if tree is None:
            raise FatalStoreError(f"memfs store {self.url} was removed")
        return tree

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with _LOCK:
            entries = [
                ObjectInfo(key, len(blob.data), blob.version)
                for key, blob in sorted(self._tree().items())
                if key.startswith(prefix)
            ]
        yield from entries

    def _get(self, key: str) -> Blob:
        with _LOCK:
            blob = self._tree().get(check_key(key))
        if blob is None:
            raise FileNotFoundError(key)
        return blob

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        blob = self._get(key)
        if max_bytes is not None and len(blob.data) > max_bytes:
            raise ObjectTooLarge(key, len(blob.data), max_bytes)
        return blob

    def stat(self, key: str) -> ObjectStat:
        blob = self._get(key)
        return ObjectStat(key, len(blob.data), blob.version)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        check_key(key)
        check_metadata(metadata)
        with _LOCK:
            tree = self._tree()
            current = tree.get(key)
            if if_none_match and current is not None:
                raise ObjectExists(f"{key} already exists", key=key)
            if if_match is not None:
                if current is None:
                    raise FileNotFoundError(key)
                if current.version != if_match:
                    raise PreconditionFailed(f"{key} changed", key=key)
            version = f"g{next(_GENERATION)}"
            tree[key] = Blob(bytes(data), version)
            return version

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        check_key(key)
        with _LOCK:
            tree = self._tree()
            current = tree.get(key)
            if if_match is not None:
                if current is None:
                    raise FileNotFoundError(key)
                if current.version != if_match:
                    raise PreconditionFailed(f"{key} changed", key=key)
            tree.pop(key, None)

    def close(self) -> None:
        pass
