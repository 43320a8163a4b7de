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

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from kops_gitsync.errors import RetryableStoreError

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
