"""One place that decides how to wait and retry a store call (rclone's "pacer").

Backends translate their SDK's exceptions into the classes of ``kops_gitsync.errors`` and
wrap each network call in :func:`call`. Only ``RetryableStoreError`` is retried, with
exponential back-off and jitter; ``FileNotFoundError``, ``PreconditionFailed`` and
``FatalStoreError`` are answers, not accidents, and pass straight through. Tenacity does the
waiting so the policy is declared here rather than hand-written in every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from kops_gitsync.errors import RetryableStoreError

T = TypeVar("T")

ATTEMPTS = 5
INITIAL_WAIT = 0.2
MAX_WAIT = 10.0


def call(fn: Callable[[], T], *, attempts: int = ATTEMPTS, initial: float = INITIAL_WAIT) -> T:
    """Run ``fn``, retrying only ``RetryableStoreError``; the last one is re-raised."""
    retrying = Retrying(
        retry=retry_if_exception_type(RetryableStoreError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=initial, max=MAX_WAIT),
        reraise=True,
    )
    return retrying(fn)
