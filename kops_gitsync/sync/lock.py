"""The store lock: one writer per store, visible to every machine that can see the store.

kops has no lock at all, so this protects kops-gitsync writers from each other (two pushes,
two daemons), not from kops. The lock is an object at the store root (never inside a cluster
folder: ``kops delete cluster`` refuses unknown files there), created with the backend's
create-if-absent precondition. It names who holds it and expires, so a crashed holder does
not block a store forever; ``kops-gitsync unlock`` removes one after showing its holder.

Holding the lock is not enough: it can be removed (``unlock --yes``), replaced (by whoever
took it next) or expire while its holder still runs. So a holder *fences* every write with
:meth:`StoreLock.ensure_held`, which reads the lock object back, compares it with what this
holder wrote, renews it once a third of its lifetime has passed (a conditional write on the
version it holds), and raises :class:`~kops_gitsync.errors.LockLost` otherwise. What fencing
cannot stop is a write that already left before the lock was stolen (docs/operations.md).

A lock object this version cannot read (garbage, a newer format) is treated as *held*, never
deleted: guessing that it is stale is how two writers end up in one store.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from kops_gitsync.errors import LockHeld, LockLost, ObjectExists, PreconditionFailed, StoreError
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.guarded import GuardedStore
from kops_gitsync.vfs.keys import printable

DEFAULT_TTL = 15 * 60.0
# Bounds a lock's numbers must keep for the clock and os.kill to accept them; anything
# outside is an unreadable lock, held and shown, never a traceback.
MAX_PID = 2**31 - 1
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z
RENEW_AFTER = 1 / 3  # of the TTL: ensure_held renews a lock older than this


def _utc(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


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
        # The fields are whatever the lock object holds: escaped, so that a newline or a
        # terminal escape in them cannot forge or hide a line of status, push or unlock.
        owner, host, operation = (printable(v) for v in (self.owner, self.host, self.operation))
        return (
            f"held by {owner}@{host} (pid {self.pid}) for {operation} "
            f"since {_utc(self.created)}, expires {_utc(self.expires)}"
        )

    @property
    def expired(self) -> bool:
        return time.time() > self.expires


_TEXT_FIELDS = ("id", "owner", "host", "operation")
_TIME_FIELDS = ("created", "expires")
FIELDS = tuple(LockInfo.__dataclass_fields__)


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse(data: bytes) -> tuple[LockInfo | None, str | None]:
    """The lock in ``data``, or None and what is wrong with it (for the operator)."""
    if not data.strip():
        return None, "it is empty"
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        return None, "it is not JSON"
    if not isinstance(doc, dict):
        return None, f"it holds a JSON {type(doc).__name__}, not a lock object"
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        return None, ("it has fields this version of kops-gitsync does not know (written by "
                      f"a newer version?): {', '.join(unknown)}")
    missing = [name for name in FIELDS if name not in doc]
    if missing:
        return None, f"it lacks {', '.join(missing)}"
    for name in _TEXT_FIELDS:
        if not isinstance(doc[name], str):
            return None, f"{name!r} is {_shown(doc[name])}, not a string"
    pid = doc["pid"]
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= MAX_PID:
        return None, f"'pid' is {_shown(pid)}, not a process id"
    for name in _TIME_FIELDS:
        value = doc[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ) or not 0 <= value <= MAX_TIME:
            return None, f"{name!r} is {_shown(value)}, not a time"
    return LockInfo(**{name: doc[name] for name in FIELDS}), None


@dataclass(frozen=True)
class LockObject:
    """What the lock key holds right now: nothing, a lock, or something unreadable."""

    version: str | None  # None: there is no lock object
    info: LockInfo | None
    problem: str | None = None  # why ``info`` is None although there is an object

    def describe(self) -> str:
        if self.version is None:
            return "not locked"
        if self.info is not None:
            return self.info.describe()
        return f"held by an unreadable lock object {LOCK_KEY} ({self.problem})"


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


def refusal(url: str, current: LockObject, now: float | None = None) -> str:
    """Why a writer may not take the lock, and what to do: wait, or (only when the holder
    looks gone) remove it. Suggesting ``unlock`` to the loser of a race with a live push is
    how a second writer gets in."""
    if current.info is None:
        return (
            f"the store {url} is locked: {LOCK_KEY} cannot be read ({current.problem}), so it "
            "counts as held. If no kops-gitsync process of any version uses this store, "
            "look at it with `kops-gitsync unlock` and remove it with `kops-gitsync unlock --yes`"
        )
    info = current.info
    said = f"the store {url} is locked, {info.describe()}"
    if (time.time() if now is None else now) > info.expires:
        return f"{said}; it has expired: retry (it is taken over), or remove it with " \
               "`kops-gitsync unlock --yes`"
    if info.host == socket.gethostname() and info.pid == os.getpid():
        return f"{said}; that is this very process: retry when its current operation is done"
    if holder_gone(info):
        return (f"{said}; no process {info.pid} runs on {info.host} any more, so it is left "
                "over from a crash: remove it with `kops-gitsync unlock --yes`")
    return (f"{said}; it is running: retry when it is done (if its holder died, the lock "
            "is taken over once it expires)")


class StoreLock:
    """One holder's lock on one store. Thread-safe: a daemon's lease keeper renews it while
    its push calls :meth:`ensure_held` before each write."""

    def __init__(
        self, store: Store, operation: str, ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.operation = operation
        self.ttl = ttl
        self.info: LockInfo | None = None
        self._version: str | None = None
        self._renewed_at = 0.0
        self._pending: LockInfo | None = None  # a renewal whose answer never came
        self._clock = clock
        self._mutex = threading.RLock()
        self.renewals = 0  # successful renewals: a lease counts one made by ensure_held too
        # ensure_held's shared read: how many started and finished, whether the last held.
        self._checks = threading.Condition()
        self._checks_started = self._checks_done = 0
        self._checking = self._check_ok = False

    def _new_info(self, lock_id: str | None = None) -> LockInfo:
        now = self._clock()
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

    @staticmethod
    def inspect(store: Store) -> LockObject:
        """What the store's lock key holds now (one read)."""
        try:
            blob = store.read(LOCK_KEY)
        except FileNotFoundError:
            return LockObject(None, None)
        info, problem = parse(blob.data)
        return LockObject(blob.version, info, problem)

    @classmethod
    def holder(cls, store: Store) -> tuple[LockInfo | None, str | None]:
        """The current lock (None if free, or unreadable) and its version."""
        current = cls.inspect(store)
        return current.info, current.version

    def acquire(self, adopt_id: str | None = None) -> LockInfo:
        """Take the lock, or raise LockHeld naming who holds it.

        ``adopt_id``: a lock with this id is ours from an interrupted run (the push journal
        recorded it) and is taken over instead of refused, but only once its holder is gone:
        a push that is still running must not be finished behind its back.
        """
        with self._mutex:
            for _attempt in range(3):
                info = self._new_info(adopt_id)
                try:
                    version = self.store.write(LOCK_KEY, self._encode(info), if_none_match=True)
                    if not self.store.capabilities.conditional_create:
                        # Where create-if-absent is not atomic (Swift, OSS, S3 servers that
                        # ignore If-None-Match) two creators can both "win": reading the lock
                        # back tells the loser, whose bytes were overwritten, that it lost.
                        # Where it is atomic the server already said so (a second creator
                        # gets 412), and the write's own version is the one we hold.
                        current = self.inspect(self.store)
                        if current.info != info:
                            raise ObjectExists("lost a racing create of the lock", key=LOCK_KEY)
                        version = current.version or version
                    self._held(info, version, info.created)
                    return info
                except ObjectExists:
                    current = self.inspect(self.store)
                    if current.version is None:
                        continue  # released meanwhile: try again
                    found = current.info
                    takeover = found is not None and (
                        self._clock() > found.expires
                        or (adopt_id is not None and found.id == adopt_id and holder_gone(found))
                    )
                    if not takeover:
                        raise LockHeld(refusal(self.store.url, current, self._clock())) from None
                    try:
                        self.store.delete(LOCK_KEY, if_match=current.version)
                    except (PreconditionFailed, FileNotFoundError):
                        continue
            raise LockHeld(f"could not take the lock on {self.store.url}: it keeps changing "
                           "hands; retry")

    def _held(self, info: LockInfo | None, version: str | None, renewed_at: float) -> None:
        self.info, self._version, self._renewed_at = info, version, renewed_at
        self._pending = None

    def _lost(self, reason: str) -> LockLost:
        """Forget the lock (it is not ours to renew or delete any more) and say why."""
        self._held(None, None, 0.0)
        return LockLost(reason)

    def _now_held_by(self) -> str:
        try:
            current = self.inspect(self.store)
        except (StoreError, OSError) as exc:
            return f"could not read who holds it now: {exc}"
        if current.version is None:
            return "nobody holds it now (the lock object was removed)"
        return f"it is now {current.describe()}"

    def renew(self) -> None:
        """Extend the lock by a conditional write on the version this holder wrote.

        Raises LockLost when it was removed or replaced, so the holder stops writing at
        once. A store error (no answer) leaves the lock as it was: the write may have landed
        after all, which :meth:`ensure_held` recognises by content.
        """
        with self._mutex:
            if self.info is None or self._version is None:
                raise LockLost(f"the lock on {self.store.url} is not held by this process")
            started = self._clock()
            info = replace(self.info, expires=started + self.ttl)
            try:
                version = self.store.write(LOCK_KEY, self._encode(info), if_match=self._version)
            except (PreconditionFailed, FileNotFoundError):
                raise self._lost(
                    f"lost the lock on {self.store.url}: another writer took it or it was "
                    f"removed; {self._now_held_by()}"
                ) from None
            except (StoreError, OSError):
                self._pending = info
                raise
            self._held(info, version, started)
            self.renewals += 1

    def ensure_held(self) -> None:
        """Raise LockLost unless this holder's lock is still in the store, as it wrote it,
        and unexpired; renew it when a third of its TTL has passed. Call before each write.

        Costs one read of the lock object (plus one conditional write every TTL/3), shared
        by concurrent callers (push's parallel writers): a caller waits for a read that
        *started after it asked*, so every write is still preceded by a check begun after
        that write was decided, exactly as with one read per write, at one read per wave
        of writes. A failed read is not shared: each waiter then reads for itself.
        """
        with self._checks:
            need = self._checks_started + 1
            while True:
                if self._checks_done >= need:
                    if self._check_ok:
                        return
                    need = self._checks_started + 1
                    continue
                if not self._checking:
                    break
                self._checks.wait()
            self._checking = True
            self._checks_started += 1
            mine = self._checks_started
        ok = False
        try:
            self._check_once()
            ok = True
        finally:
            with self._checks:
                self._checking, self._checks_done, self._check_ok = False, mine, ok
                self._checks.notify_all()

    def _check_once(self) -> None:
        with self._mutex:
            info, version = self.info, self._version
            if info is None or version is None:
                raise LockLost(f"the lock on {self.store.url} is not held by this process; "
                               "nothing more is written")
            now = self._clock()
            if now >= info.expires:
                raise self._lost(
                    f"the lock on {self.store.url} expired at {_utc(info.expires)} before the "
                    f"next write; nothing more is written; {self._now_held_by()}"
                )
            current = self.inspect(self.store)
            if current.version != version:
                if current.info is None or current.info != self._pending:
                    gone = ("the lock object was removed" if current.version is None
                            else f"it is now {current.describe()}")
                    raise self._lost(f"lost the lock on {self.store.url}: {gone}; nothing more "
                                     "is written")
                self._held(self._pending, current.version, self._renewed_at)
            if now - self._renewed_at > self.ttl * RENEW_AFTER:
                self.renew()

    def release(self) -> None:
        with self._mutex:
            if self._version is None:
                return
            # Taken over after expiry? Then it is not ours to delete any more.
            with contextlib.suppress(PreconditionFailed, FileNotFoundError):
                self.store.delete(LOCK_KEY, if_match=self._version)
            self._held(None, None, 0.0)

    def fenced(self, store: Store | None = None) -> FencedStore:
        """``store`` (default: the locked one) with :meth:`ensure_held` before each write."""
        return FencedStore(self.store if store is None else store, self)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class FencedStore(GuardedStore):
    """A store whose writes and deletes first check that ``lock`` is still held."""

    def __init__(self, store: Store, lock: StoreLock) -> None:
        super().__init__(store, lambda _key: lock.ensure_held())
        self.lock = lock
