"""The store lock: one writer per store, visible to every machine that can see the store.

kops has no lock at all, so this protects kops-gitsync writers from each other (two pushes,
two daemons), not from kops. The lock is an object at the store root (never inside a cluster
folder: ``kops delete cluster`` refuses unknown files there), created with the backend's
create-if-absent precondition. It names who holds it and expires, so a crashed holder does
not block a store forever; ``kops-gitsync unlock`` removes one after showing its holder.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass

from kops_gitsync.errors import FatalError, ObjectExists, PreconditionFailed
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.base import Store

DEFAULT_TTL = 15 * 60.0


@dataclass(frozen=True)
class LockInfo:
    id: str
    owner: str
    host: str
    pid: int
    operation: str
    created: float
    expires: float

    def describe(self) -> str:
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        expires = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.expires))
        return (
            f"held by {self.owner}@{self.host} (pid {self.pid}) for {self.operation} "
            f"since {created}, expires {expires}"
        )

    @property
    def expired(self) -> bool:
        return time.time() > self.expires


def holder_gone(info: LockInfo) -> bool:
    """True only when the holder provably no longer runs: this host, and no such pid (or it
    is this very process). Another host's holder cannot be checked, so it counts as alive."""
    if info.host != socket.gethostname():
        return False
    if info.pid == os.getpid():
        return True
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _parse(data: bytes) -> LockInfo | None:
    try:
        doc = json.loads(data)
        return LockInfo(**{k: doc[k] for k in LockInfo.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None


class StoreLock:
    def __init__(self, store: Store, operation: str, ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.operation = operation
        self.ttl = ttl
        self.info: LockInfo | None = None
        self._version: str | None = None

    def _new_info(self, lock_id: str | None = None) -> LockInfo:
        now = time.time()
        return LockInfo(
            id=lock_id or uuid.uuid4().hex,
            owner=getpass.getuser(),
            host=socket.gethostname(),
            pid=os.getpid(),
            operation=self.operation,
            created=now,
            expires=now + self.ttl,
        )

    @staticmethod
    def _encode(info: LockInfo) -> bytes:
        return json.dumps(asdict(info), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def holder(cls, store: Store) -> tuple[LockInfo | None, str | None]:
        """The current lock (None if free, or unreadable) and its version."""
        try:
            blob = store.read(LOCK_KEY)
        except FileNotFoundError:
            return None, None
        return _parse(blob.data), blob.version

    def acquire(self, adopt_id: str | None = None) -> LockInfo:
        """Take the lock, or raise FatalError naming who holds it.

        ``adopt_id``: a lock with this id is ours from an interrupted run (the push journal
        recorded it) and is taken over instead of refused, but only once its holder is gone:
        a push that is still running must not be finished behind its back.
        """
        for _attempt in range(3):
            info = self._new_info(adopt_id)
            try:
                self._version = self.store.write(LOCK_KEY, self._encode(info), if_none_match=True)
                # Where create-if-absent is not atomic (Swift, OSS, S3 servers that ignore
                # If-None-Match) two creators can both "win": reading the lock back tells
                # the loser, whose bytes were overwritten, that it does not hold it.
                current, version = self.holder(self.store)
                if current is not None and current.id == info.id:
                    self._version = version or self._version
                    self.info = info
                    return info
                raise ObjectExists("lost a racing create of the lock", key=LOCK_KEY)
            except ObjectExists:
                current, version = self.holder(self.store)
                if version is None:
                    continue  # released meanwhile: try again
                takeover = current is None or current.expired or (
                    adopt_id is not None and current.id == adopt_id and holder_gone(current)
                )
                if not takeover:
                    assert current is not None
                    raise FatalError(
                        f"the store {self.store.url} is locked, {current.describe()}; "
                        "wait for it, or remove it with `kops-gitsync unlock` if that "
                        "process is gone"
                    ) from None
                try:
                    self.store.delete(LOCK_KEY, if_match=version)
                except (PreconditionFailed, FileNotFoundError):
                    continue
        raise FatalError(f"could not take the lock on {self.store.url}: it keeps changing hands")

    def renew(self) -> None:
        """Extend the lease; a lost lease is fatal so the holder stops writing at once."""
        if self.info is None or self._version is None:
            raise FatalError("renewing a lock that is not held")
        info = LockInfo(**{**asdict(self.info), "expires": time.time() + self.ttl})
        try:
            self._version = self.store.write(
                LOCK_KEY, self._encode(info), if_match=self._version
            )
        except (PreconditionFailed, FileNotFoundError):
            self.info = None
            raise FatalError(f"lost the lock on {self.store.url}: another writer took it") from None
        self.info = info

    def release(self) -> None:
        if self._version is None:
            return
        # Taken over after expiry? Then it is not ours to delete any more.
        with contextlib.suppress(PreconditionFailed, FileNotFoundError):
            self.store.delete(LOCK_KEY, if_match=self._version)
        self._version = None
        self.info = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
