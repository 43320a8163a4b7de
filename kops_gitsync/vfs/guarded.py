"""A store whose writes and deletes first pass a check: the one wrapper for fencing.

Push (its own store lock) and the daemon (its lease) both need "no write may start unless
we still hold the store": wrapping the store once keeps that check at every write site,
including the journal resume, without each caller remembering it. Reads pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from kops_gitsync.vfs.base import Blob, ObjectInfo, ObjectStat, Store


class GuardedStore:
    def __init__(self, store: Store, check: Callable[[str], None]) -> None:
        self._store = store
        self._check_write = check
        self.url = store.url
        self.capabilities = store.capabilities

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._store.list(prefix)

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        return self._store.read(key, max_bytes=max_bytes)

    def stat(self, key: str) -> ObjectStat:
        return self._store.stat(key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        self._check_write(key)
        return self._store.write(
            key, data, if_match=if_match, if_none_match=if_none_match, metadata=metadata
        )

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self._check_write(key)
        self._store.delete(key, if_match=if_match)

    def close(self) -> None:
        pass  # whoever opened the real store closes it
