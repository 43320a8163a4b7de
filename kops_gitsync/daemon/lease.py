"""The daemon's lease on a store: the store lock, held for as long as the daemon runs.

A daemon is a writer for months, so it cannot take the lock per push the way the CLI does:
between two pushes another daemon (on another machine, for high availability) would get in
and both would believe they own the store. Instead each daemon tries to hold
:class:`~kops_gitsync.sync.lock.StoreLock` for every store it may push to and renews it in a
background thread; the one that fails to take it stays on standby and tries again each
tick, so it takes over within one TTL of the holder's death.

Safety rests on one rule: a lease counts as held only while its last successful renewal is
younger than half the TTL. Another daemon can take it only after the full TTL (by its own
clock), so even a renewal thread that stalls, or clocks that disagree by less than half the
TTL, never give two writers. A renewal that fails outright (the lock object was replaced)
drops the lease at once, and :meth:`Lease.valid` is checked before every write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kops_gitsync.errors import FatalError, StoreError
from kops_gitsync.sync.lock import LockInfo, StoreLock
from kops_gitsync.vfs.base import Store

OPERATION = "daemon"
DEFAULT_TTL = 60.0


class Lease:
    """One store's lease. Thread-safe: the keeper thread and the sync loop both use it."""

    def __init__(
        self,
        name: str,
        store: Store,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        adopt_id: str | None = None,
    ) -> None:
        self.name = name
        self.adopt_id = adopt_id  # a lock id the push journal proves was ours
        self.lock = StoreLock(store, OPERATION, ttl)
        self.ttl = ttl
        self._clock = clock
        self._mutex = threading.RLock()
        self._renewed_at: float | None = None
        self.holder: LockInfo | None = None  # who holds it when we do not
        self.last_error: str | None = None

    @property
    def held(self) -> bool:
        return self._renewed_at is not None

    def valid(self) -> bool:
        """True while writing is safe: held, and renewed within half the TTL."""
        with self._mutex:
            renewed = self._renewed_at
            return renewed is not None and self._clock() - renewed < self.ttl / 2

    def holder_description(self) -> str:
        if self.held and self.lock.info is not None:
            info = self.lock.info
            return f"{info.owner}@{info.host} pid {info.pid} (this daemon)"
        if self.holder is not None:
            return f"{self.holder.owner}@{self.holder.host} pid {self.holder.pid}"
        return "nobody"

    def tick(self) -> bool:
        """Renew if held, else try to take it. Returns True if the held state changed."""
        with self._mutex:
            was_held = self.held
            if was_held:
                self._renew()
            else:
                self._try_acquire()
            return was_held != self.held

    def _renew(self) -> None:
        started = self._clock()
        try:
            self.lock.renew()
        except FatalError as exc:  # replaced or deleted: somebody else owns it now
            self._drop(str(exc))
            return
        except (StoreError, OSError) as exc:
            # The store did not answer: keep the lease until valid() says it is too old.
            self.last_error = f"renewal failed: {exc}"
            if not self.valid():
                self._drop(self.last_error)
            return
        self._renewed_at = started
        self.last_error = None

    def _try_acquire(self) -> None:
        started = self._clock()
        try:
            self.lock.acquire(adopt_id=self.adopt_id)
        except FatalError as exc:
            self.last_error = None
            self.holder, _version = StoreLock.holder(self.lock.store)
            if self.holder is None:
                self.last_error = str(exc)
            return
        except (StoreError, OSError) as exc:
            self.last_error = f"could not take the lease: {exc}"
            return
        self._renewed_at = started
        self.holder = None
        self.adopt_id = None
        self.last_error = None

    def _drop(self, reason: str) -> None:
        self._renewed_at = None
        self.lock.info = None
        self.last_error = reason

    def release(self) -> None:
        """Give the lease back so a standby (or the next start) takes over at once."""
        with self._mutex:
            if self.held:
                try:
                    self.lock.release()
                except (StoreError, OSError) as exc:
                    self.last_error = f"release failed: {exc}"
            self._renewed_at = None


class LeaseKeeper(threading.Thread):
    """Renews held leases and retries standby ones every ``ttl / 4`` seconds.

    A separate thread because a slow pull of one store must not let the leases of the others
    lapse. ``on_change(name, held)`` tells the loop when a lease is gained or lost.
    """

    def __init__(
        self,
        leases: list[Lease],
        on_change: Callable[[str, bool], None],
        period: float | None = None,
    ) -> None:
        super().__init__(name="kops-gitsync-lease", daemon=True)
        self._leases = list(leases)
        self._on_change = on_change
        self._period = period or min((lease.ttl for lease in leases), default=DEFAULT_TTL) / 4
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._period):
            self.tick_all()

    def tick_all(self) -> None:
        for lease in self._leases:
            if self._stop_event.is_set():
                return
            try:
                changed = lease.tick()
            except Exception as exc:  # never let one store's lock kill the keeper
                lease.last_error = f"lease error: {exc}"
                continue
            if changed:
                self._on_change(lease.name, lease.held)

    def stop(self) -> None:
        self._stop_event.set()
