"""When each store is next due: interval with jitter, exponential back-off, event pokes.

Pure bookkeeping (no threads, no I/O, the clock and the random source are passed in), so the
timing rules are tested without sleeping. Each store has its own :class:`StoreSchedule`:
a failing store backs off on its own and never delays the others, which is the isolation
the daemon promises.

Jitter spreads the pulls of many daemons (and many stores in one daemon) that started at the
same moment, so a fleet restarted by one deploy does not list every bucket in the same
second. Back-off doubles from ``interval``-independent ``base`` up to ``cap`` and resets on
the first success: a store that is down for an hour is asked about every few minutes, not
hammered, and is back on its normal interval the moment it answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

JITTER = 0.1  # +-10 % of the interval
BACKOFF_BASE = 2.0  # seconds before the first retry
BACKOFF_CAP = 600.0  # never wait more than 10 minutes between retries
SETTLE = 0.25  # an event waits this long for the burst it belongs to (kops writes many files)


@dataclass
class StoreSchedule:
    """One store's timetable. ``now`` values come from a monotonic clock."""

    name: str
    interval: float
    rand: Callable[[], float] = field(default=random.random, repr=False)
    backoff_base: float = BACKOFF_BASE
    backoff_cap: float = BACKOFF_CAP
    next_due: float = 0.0
    failures: int = 0
    poked: set[str] = field(default_factory=set)  # why events asked for a run ahead of time
    poked_at: float = 0.0
    settle: float = SETTLE

    def jittered(self, seconds: float) -> float:
        return seconds * (1.0 + JITTER * (2.0 * self.rand() - 1.0))

    def start(self, now: float) -> None:
        """First run soon, but spread over a tenth of the interval (at most 5 s)."""
        self.next_due = now + min(self.interval * JITTER, 5.0) * self.rand()

    def wait(self, now: float) -> float:
        """Seconds until this store is due (0: now)."""
        if self.poked:
            return max(0.0, min(self.poked_at + self.settle, self.next_due) - now)
        return max(0.0, self.next_due - now)

    def is_due(self, now: float) -> bool:
        return self.wait(now) == 0.0

    def poke(self, reason: str, now: float) -> None:
        """An event (a file changed, a ref moved): run at the next turn of the loop.

        A store that is backing off stays backed off: an event on a store that is down is
        no evidence that it is up again, and retrying on every event would defeat back-off.
        """
        if self.failures == 0:
            # The first event of a burst starts the settle time; later ones ride along (an
            # event during the run pokes again, so nothing is missed, and a steady stream
            # of events cannot postpone the run forever). Every reason is kept: the run
            # decides from all of them what it has to do.
            if not self.poked:
                self.poked_at = now
            self.poked.add(reason)

    def begin(self, now: float) -> frozenset[str]:
        """A run starts: returns why. Events from now on ask for another run."""
        reasons = set(self.poked)
        if now >= self.next_due or not reasons:
            reasons.add("interval")
        self.poked = set()
        return frozenset(reasons)

    def succeeded(self, now: float) -> None:
        self.failures = 0
        self.next_due = now + self.jittered(self.interval)

    def failed(self, now: float) -> float:
        """Record a failure; returns the delay before the next attempt."""
        self.failures += 1
        self.poked = set()
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (self.failures - 1))
        delay = min(self.backoff_cap, self.jittered(delay))
        self.next_due = now + delay
        return delay

    def defer(self, reasons: frozenset[str], now: float, delay: float) -> None:
        """Not now, but soon, for the same reasons (a lease waiting for its renewal)."""
        self.poked |= reasons - {"interval"} or {"retry"}
        self.poked_at = now + delay - self.settle

    def idle(self, now: float) -> None:
        """Nothing was tried (standby, shutting down): look again after one interval."""
        self.next_due = now + self.jittered(self.interval)


def seconds_until_next(schedules: Iterable[StoreSchedule], now: float) -> float | None:
    """How long the loop may sleep; None when there is nothing scheduled."""
    waits = [s.wait(now) for s in schedules]
    return min(waits) if waits else None


def due(schedules: Iterable[StoreSchedule], now: float) -> list[StoreSchedule]:
    """The stores to run now: poked ones first, then the most overdue."""
    ready = [s for s in schedules if s.is_due(now)]
    return sorted(ready, key=lambda s: (not s.poked, s.next_due))
