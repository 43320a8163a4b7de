"""A Store that forwards every call to a real one: the base of the doubles that watch or
disturb only the writes (lock_thief.TakenAfter, test_push_parallel.Watched), so each of
them states what it changes and nothing else."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kops_gitsync.vfs.base import Blob, ObjectInfo, ObjectStat, Store


class Forwarding:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.url, self.capabilities = store.url, store.capabilities

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.store.list(prefix)

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        return self.store.read(key, max_bytes=max_bytes)

    def stat(self, key: str) -> ObjectStat:
        return self.store.stat(key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        return self.store.write(key, data, if_match=if_match, if_none_match=if_none_match,
                                metadata=metadata)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.store.delete(key, if_match=if_match)

    def close(self) -> None:
        pass  # the real store belongs to whoever made it
