"""The retry pacer with the tenacity that is installed, whichever release pyproject allows.

The lowest-versions check (tests/lowest.sh) runs this module against tenacity 9.1, where
``wait_exponential_jitter(multiplier=...)`` raised TypeError on every store call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kops_gitsync.errors import PreconditionFailed, RetryableStoreError
from kops_gitsync.vfs import pacer


def _flaky(failures: int) -> tuple[list[float], Callable[[], str]]:
    calls: list[float] = []

    def fn() -> str:
        calls.append(time.monotonic())
        if len(calls) <= failures:
            raise RetryableStoreError("503 slow down")
        return "ok"

    return calls, fn


def test_retries_a_retryable_error_with_a_short_backoff() -> None:
    calls, fn = _flaky(2)
    assert pacer.call(fn, attempts=3, initial=0.01) == "ok"
    assert len(calls) == 3
    first, second = calls[1] - calls[0], calls[2] - calls[1]
    assert 0.01 <= first < 0.01 + 0.05 + 0.5  # initial + jitter (scaled to initial) + slack
    assert 0.02 <= second < 0.02 + 0.05 + 0.5


def test_the_last_retryable_error_is_reraised_after_the_attempts() -> None:
    calls, fn = _flaky(5)
    with pytest.raises(RetryableStoreError):
        pacer.call(fn, attempts=2, initial=0.001)
    assert len(calls) == 2


def test_answers_are_not_retried() -> None:
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        raise PreconditionFailed("etag changed")

    with pytest.raises(PreconditionFailed):
        pacer.call(fn, initial=0.001)
    assert calls == [1]
