"""A store on which another writer takes the lock away in the middle of a push.

What happened in production: between two writes of a push, an operator ran
``kops-gitsync unlock --yes`` and another push (or daemon) took the lock. The double does
exactly that through the real store after the ``n``-th object write, and records every
object write that still reached the store afterwards: fencing means there are none.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.base import Store
from tests.doubles.forwarding import Forwarding


def rival_takes(store: Store, how: str) -> None:
    """What another process does to our lock: an operator's ``unlock --yes`` followed by
    another push taking the store, or just the removal."""
    current = StoreLock.inspect(store)
    store.delete(LOCK_KEY, if_match=current.version)
    if how == "replaced":
        StoreLock(store, "push from the rival").acquire()


class TakenAfter(Forwarding):
    """A store on which the lock is taken away right after the ``n``-th object write, and
    which records every object write that reached it after that."""

    def __init__(self, store: Store, n: int, how: str) -> None:
        super().__init__(store)
        self.n, self.how = n, how
        self.before: list[str] = []
        self.after: list[str] = []
        # Parallel writers: the n-th write's theft and the bookkeeping of writes finishing
        # meanwhile happen in one step, so "after" means after the lock was really gone.
        self._mutex = threading.Lock()

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        version = self.store.write(
            key, data, if_match=if_match, if_none_match=if_none_match, metadata=metadata
        )
        with self._mutex:
            if len(self.before) < self.n:
                self.before.append(key)
                if len(self.before) == self.n:
                    rival_takes(self.store, self.how)
            else:
                self.after.append(key)
        return version
