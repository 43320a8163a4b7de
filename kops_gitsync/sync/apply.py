"""Carry out a push's planned writes, a bounded number at a time.

Writes of different keys do not depend on each other (no store orders them, and kops reads
each object on its own), so push sends up to ``workers`` at once instead of paying one round
trip per object. What stays as it was with one writer:

* every write carries its planned precondition and, through the fenced store, a check that
  the lock is still held (sync/lock.py shares that read between concurrent writers without
  weakening it);
* the first conflict (a precondition the store refused) or failure stops *launching* writes;
  the writes already in flight finish (they cannot be called back) and are journalled, so
  the journal says exactly what reached the store and a resume writes exactly the rest;
* retries and back-off stay the store's own (each backend's ``Pacer`` holds back every
  thread of the store when the server asks for a pause).

Only the main thread touches git (reading the target blobs) and the journal, in the order
writes complete; the workers only talk to the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from kops_gitsync.errors import FatalError, ObjectExists, PreconditionFailed
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.journal import Applied, Journal, JournalEntry, entry_bytes, write_entry

DEFAULT_WORKERS = 8
WORKERS_VAR = "KOPS_GITSYNC_PUSH_WORKERS"
MAX_WORKERS = 64


def workers_from(env: Mapping[str, str]) -> int:
    """``KOPS_GITSYNC_PUSH_WORKERS`` (1..64), default 8: rclone's --transfers is 4 and its
    checkers 8; eight conditional PUTs in flight keep one store busy without being a burst
    a rate limit would notice."""
    raw = env.get(WORKERS_VAR, "").strip()
    if not raw:
        return DEFAULT_WORKERS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise FatalError(f"{WORKERS_VAR}={raw!r}: give a whole number from 1 to {MAX_WORKERS}")
    return int(raw)


@dataclass
class Outcome:
    """What a batch did: applied in completion order, keys refused, the first failure."""

    applied: list[Applied] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # changed in the store meanwhile
    error: Exception | None = None  # LockLost, a store that stopped answering, ...

    @property
    def stopped(self) -> bool:
        return bool(self.conflicts) or self.error is not None


def apply_entries(
    ctx: SyncContext, journal: Journal, entries: Iterable[JournalEntry], workers: int | None = None
) -> Outcome:
    """Write ``entries`` with at most ``workers`` in flight, journalling each completion.

    Never raises for a store answer: conflicts and the first failure are in the outcome, and
    the journal holds every write that landed before it returns.
    """
    limit = workers or workers_from(os.environ)
    outcome = Outcome()
    pending = iter(entries)
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="push-write") as pool:
        running: dict[Future[Applied], JournalEntry] = {}

        def launch() -> None:
            while len(running) < limit and not outcome.stopped:
                entry = next(pending, None)
                if entry is None:
                    return
                try:
                    data = entry_bytes(ctx, entry)
                except Exception as exc:  # a damaged repository stops the batch
                    outcome.error = exc
                    return
                running[pool.submit(write_entry, ctx, journal, entry, data)] = entry

        launch()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                entry = running.pop(future)
                try:
                    applied = future.result()
                except (PreconditionFailed, ObjectExists, FileNotFoundError):
                    outcome.conflicts.append(entry.key)
                    continue
                except Exception as exc:  # reported once the batch is drained
                    outcome.error = outcome.error or exc
                    continue
                journal.record(applied)
                outcome.applied.append(applied)
            launch()
    return outcome
