"""One place that decides how to wait and retry a store call (rclone's "pacer").

Backends translate their SDK's exceptions into the classes of ``kops_gitsync.errors`` and
wrap each network call in :func:`call`. Only ``RetryableStoreError`` is retried, with
exponential back-off and jitter; ``FileNotFoundError``, ``PreconditionFailed`` and
``FatalStoreError`` are answers, not accidents, and pass straight through. Tenacity does the
waiting so the policy is declared here rather than hand-written in every backend.

The wait is composed from ``wait_exponential`` and ``wait_random``, which take the same
arguments in every tenacity release the project allows (``tenacity>=9.1``):
``wait_exponential_jitter(multiplier=...)`` only exists from tenacity 9.2, and with 9.1 every
store call raised TypeError before its first request.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from kops_gitsync.errors import FatalError, RetryableStoreError, RetryLater

T = TypeVar("T")

ATTEMPTS = 5
INITIAL_WAIT = 0.2
MAX_WAIT = 10.0
JITTER = 1.0  # at INITIAL_WAIT; a shortened back-off (tests) shortens the jitter with it


def call(fn: Callable[[], T], *, attempts: int = ATTEMPTS, initial: float = INITIAL_WAIT) -> T:
    """Run ``fn``, retrying only ``RetryableStoreError``; the last one is re-raised.

    The n-th wait is ``min(initial * 2**(n-1), MAX_WAIT)`` plus a random share of the jitter.
    """
    jitter = JITTER * initial / INITIAL_WAIT
    retrying = Retrying(
        retry=retry_if_exception_type(RetryableStoreError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=initial, max=MAX_WAIT) + wait_random(0, jitter),
        reraise=True,
    )
    return retrying(fn)


# -- one pacer per store ----------------------------------------------------------------------
#
# ``call`` above paces one call on its own. A pull reads with 16 threads, and when the
# server says "slow down" (503, 429, Retry-After) every one of them must hear it, not only
# the thread that got the answer: so each store owns one ``Pacer``, shared by its threads.
# A hung request is a failure like a 503 (each backend sets connect and read timeouts and
# reports a timeout as ``RetryableStoreError``), and every retry is announced on stderr, so a
# dead server is never a minute of silence.

CONNECT_TIMEOUT = 10.0  # seconds to open a connection
READ_TIMEOUT = 10.0  # seconds without a byte of the answer
TIMEOUT_VAR = "KOPS_GITSYNC_STORE_TIMEOUT"
MAX_RETRY_AFTER = 120.0  # a server asking for longer is answered with this wait


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float

    @property
    def pair(self) -> tuple[float, float]:
        """As requests and urllib3 take them: (connect, read)."""
        return (self.connect, self.read)


def timeouts(env: Mapping[str, str]) -> Timeouts:
    """The request timeouts: ``KOPS_GITSYNC_STORE_TIMEOUT`` seconds (both), default 10."""
    raw = env.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return Timeouts(CONNECT_TIMEOUT, READ_TIMEOUT)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise FatalError(f"{TIMEOUT_VAR}={raw!r}: give a number of seconds between 0 and 3600")
    return Timeouts(seconds, seconds)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Pacer:
    """Retries for one store, shared by every thread that uses it.

    Only ``RetryableStoreError`` is retried. Waits grow exponentially with jitter; a
    ``RetryLater`` (the server's ``Retry-After``) waits at least that long. Any wait also
    holds back every other thread of the store until it is over, so 16 readers do not keep
    hammering a server that asked for a pause. ``say`` gets one line per retry.
    """

    def __init__(
        self, name: str, *, attempts: int = ATTEMPTS, initial: float = INITIAL_WAIT,
        max_wait: float = MAX_WAIT, say: Callable[[str], None] = _stderr,
    ) -> None:
        self.name = name
        self.attempts = attempts
        self.initial = initial
        self.max_wait = max_wait
        self.say = say
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic(): no request of this store starts before it

    def call(
        self, fn: Callable[[], T], *, attempts: int | None = None, initial: float | None = None
    ) -> T:
        """Run ``fn``; retry ``RetryableStoreError`` up to ``attempts`` tries in all."""
        tries = attempts or self.attempts
        first_wait = self.initial if initial is None else initial

        def wait(state: RetryCallState) -> float:
            backoff = min(self.max_wait, first_wait * 2.0 ** (state.attempt_number - 1))
            delay = backoff / 2 + random.uniform(0, backoff / 2)
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RetryLater):
                delay = max(delay, error.retry_after)
            with self._lock:
                self._resume_at = max(self._resume_at, time.monotonic() + delay)
            return delay

        def announce(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            pause = state.next_action.sleep if state.next_action else 0.0
            after = f" in {pause:.0f} s as asked" if isinstance(error, RetryLater) else ""
            self.say(f"{self.name}: {error}, retrying{after} "
                     f"({state.attempt_number + 1}/{tries})")

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableStoreError),
            stop=stop_after_attempt(tries),
            wait=wait,
            before=lambda _state: self._hold(),
            before_sleep=announce,
            reraise=True,
        )
        return retrying(fn)

    def _hold(self) -> None:
        """Wait out a pause another thread of this store was asked for."""
        with self._lock:
            pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
