"""The daemon's lease on a store: the store lock, held for as long as the daemon runs.

A daemon is a writer for months, so it cannot take the lock per push the way the CLI does:
between two pushes another daemon (on another machine, for high availability) would get in
and both would believe they own the store. Instead each daemon tries to hold
:class:`~kops_gitsync.sync.lock.StoreLock` for every store it may push to and renews it in a
background thread; the one that fails to take it stays on standby and tries again each
tick, so it takes over within one TTL of the holder's death.

Safety rests on two checks before every store write (:meth:`Lease.ensure_held`):

* time: a lease counts as held only while its last successful renewal is younger than half
  the TTL. Another daemon can take it only after the full TTL (by its own clock), so a
  renewal thread that stalls, or clocks that disagree by less than half the TTL, never give
  two writers;
* the object: the lock is read back and must still be the one this daemon wrote
  (:meth:`StoreLock.ensure_held`). Time alone cannot see an operator's ``unlock --yes``
  followed by another writer taking the store: that daemon would keep writing for up to
  half a TTL inside the other holder's window.

A renewal (a conditional write on the version this daemon wrote) that fails because the
object was removed or replaced drops the lease at once. Each lease is renewed by its own
thread, against its own deadline: a store that is slow to answer cannot make another
store's lease lapse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kops_gitsync.errors import FatalError, LockLost, StoreError
from kops_gitsync.sync.lock import LockInfo, StoreLock
from kops_gitsync.vfs.base import Store

OPERATION = "daemon"
DEFAULT_TTL = 60.0




class Lease:
    """One store's lease. Thread-safe: its keeper thread and the sync loop both use it.

    Two locks: ``_mutex`` serialises the store operations (take, renew, release), and
    ``_state`` guards the few fields :meth:`valid` reads, so the loop asking "may I write?"
    never waits for a renewal stuck on a slow store.
    """

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
        self._state = threading.Lock()
        self._renewed_at: float | None = None
        self._unreported_loss = False  # lost by a write's check: the next tick reports it
        self.holder: LockInfo | None = None  # who holds it when we do not
        self.last_error: str | None = None
        # Replicas (daemon/replicas.py): why this process may not hold the lease at all right
        # now (another replica owns the store, or this replica's membership lapsed), or None.
        # Asked before every take, renewal and write; a refused lease is given back.
        self.gate: Callable[[], str | None] | None = None

    @property
    def held(self) -> bool:
        return self._renewed_at is not None

    def refused(self) -> str | None:
        """Why the gate forbids holding this lease now (None: it does not)."""
        gate = self.gate
        return gate() if gate is not None else None

    def valid(self) -> bool:
        """True while writing is safe by time: held, and renewed within half the TTL (and
        the gate, if any, allows it)."""
        if self.refused() is not None:
            return False
        with self._state:
            renewed = self._renewed_at
            return renewed is not None and self._clock() - renewed < self.ttl / 2

    def ensure_held(self) -> None:
        """The check before each store write: valid by time, and the lock object still ours.

        Raises LockLost (and drops the lease) when either fails.
        """
        if not self.valid():
            raise LockLost(f"the lease on {self.lock.store.url} was not renewed for half its "
                           f"TTL ({self.ttl / 2:g} s); nothing more is written")
        started, renewals = self._clock(), self.lock.renewals
        try:
            self.lock.ensure_held()
        except LockLost as exc:
            with self._state:
                self._renewed_at = None
                self._unreported_loss = True
                self.last_error = str(exc)
            raise
        if self.lock.renewals != renewals:  # renewed on the way (no keeper in --once)
            with self._state:
                if self._renewed_at is not None:
                    self._renewed_at = max(self._renewed_at, started)

    def holder_description(self) -> str:
        info = self.lock.info
        if self.held and info is not None:
            return f"{info.owner}@{info.host} pid {info.pid} (this daemon)"
        if self.holder is not None:
            return f"{self.holder.owner}@{self.holder.host} pid {self.holder.pid}"
        return "nobody"

    def tick(self) -> bool:
        """Renew if held, else try to take it. Returns True if the held state changed."""
        with self._mutex:
            with self._state:
                was_held = self.held or self._unreported_loss
                self._unreported_loss = False
            if self.refused() is not None:
                if self.held:  # not ours to keep: give it back so its owner takes it at once
                    self.release()
            elif self.held:
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
                self._drop(self.last_error, lapsed=True)
            return
        with self._state:
            if self._renewed_at is not None:  # not lost by a write's check meanwhile
                self._renewed_at = started
        self.last_error = None

    def _try_acquire(self) -> None:
        started = self._clock()
        try:
            self.lock.acquire(adopt_id=self.adopt_id)
        except FatalError as exc:
            self.last_error = None
            try:
                self.holder, _version = StoreLock.holder(self.lock.store)
            except (StoreError, OSError):
                self.holder = None
            if self.holder is None:
                self.last_error = str(exc)  # unreadable lock object, or a race: say why
            return
        except (StoreError, OSError) as exc:
            self.last_error = f"could not take the lease: {exc}"
            return
        with self._state:
            self._renewed_at = started
        self.holder = None
        self.adopt_id = None
        self.last_error = None

    def _drop(self, reason: str, lapsed: bool = False) -> None:
        info = self.lock.info
        if lapsed and info is not None:
            # Lapsed by time while the store did not answer: the object may still be ours,
            # untouched. Adopting its id takes it back at once when it is, instead of
            # refusing our own lock until it expires; anyone else's lock is left alone.
            self.adopt_id = info.id
        with self._state:
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
            with self._state:
                self._renewed_at = None
                self._unreported_loss = False


class LeaseKeeper:
    """Renews held leases and retries standby ones, each every ``ttl / 4`` seconds, each in
    its own thread.

    One thread per lease, not one for all: renewing one after the other, a store that takes
    longer than half a TTL to answer (an S3 endpoint retrying, a hung NFS mount) would let
    every lease behind it in the queue lapse. ``on_change(name, held)`` tells the loop when
    a lease is gained or lost (from the lease's thread).
    """

    def __init__(
        self,
        leases: list[Lease],
        on_change: Callable[[str, bool], None],
        period: float | None = None,
    ) -> None:
        self._leases = list(leases)
        self._on_change = on_change
        self._period = period
        self._stop_event = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep, args=(lease,), daemon=True,
                             name=f"kops-gitsync-lease-{lease.name}")
            for lease in self._leases
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _keep(self, lease: Lease) -> None:
        period = self._period or lease.ttl / 4
        while not self._stop_event.wait(period):
            self._tick(lease)

    def _tick(self, lease: Lease) -> None:
        try:
            changed = lease.tick()
        except Exception as exc:  # never let one store's lock kill its keeper
            lease.last_error = f"lease error: {exc}"
            return
        if changed:
            self._on_change(lease.name, lease.held)

    def tick_all(self) -> None:
        """One tick of every lease, in this thread (start-up, tests)."""
        for lease in self._leases:
            if self._stop_event.is_set():
                return
            self._tick(lease)

    def stop(self) -> None:
        self._stop_event.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every keeper thread, ``timeout`` in total; a thread stuck in a store
        call is left behind (it is a daemon thread and stops with the process)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
