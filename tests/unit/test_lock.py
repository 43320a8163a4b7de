"""The store lock on a backend whose create-if-absent is not atomic."""

from __future__ import annotations

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.vfs.base import Capabilities
from kops_gitsync.vfs.memfs import MemoryStore


class RacyStore(MemoryStore):
    """Accepts a create although another creator slipped in between check and write
    (what Swift and OSS do under a race): the rival's lock overwrites ours right after.
    It says so, as Swift and OSS do: where create-if-absent is atomic, the lock trusts the
    create and reads nothing back."""

    capabilities = Capabilities(
        conditional_create=False, conditional_replace=True, conditional_delete=True
    )
    rival: bytes | None = None

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        version = super().write(key, data, if_match=if_match, if_none_match=if_none_match)
        if if_none_match and self.rival is not None:
            rival, self.rival = self.rival, None
            version = super().write(key, rival)
        return version


def test_lock_read_back_detects_a_lost_create() -> None:
    store = RacyStore("memfs://racy-lock")
    try:
        other = StoreLock(MemoryStore("memfs://scratch"), "the other daemon")
        rival_info = other._new_info()
        store.rival = StoreLock._encode(rival_info)
        with pytest.raises(FatalError, match="the other daemon"):
            StoreLock(store, "push").acquire()
        holder, _ = StoreLock.holder(store)
        assert holder is not None and holder.id == rival_info.id
    finally:
        MemoryStore.reset("memfs://racy-lock")
        MemoryStore.reset("memfs://scratch")


def test_renew_after_takeover_is_fatal() -> None:
    store = MemoryStore("memfs://renew")
    try:
        lock = StoreLock(store, "daemon", ttl=60)
        lock.acquire()
        store.write(".kops-gitsync.lock", b"{}")  # someone else took it
        with pytest.raises(FatalError, match="lost the lock"):
            lock.renew()
    finally:
        MemoryStore.reset("memfs://renew")
