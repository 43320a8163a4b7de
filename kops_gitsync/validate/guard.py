"""Fail closed: a check that raises is an error finding, never a traceback and never a pass.

A validator that crashes has not checked the file, so "no findings" would be a lie, and a
traceback in a commit hook tells the committer nothing about their file. Every stage of
the engine (loading, shape and schema, each semantic check, the update checks) runs
through ``guarded``: an exception becomes one ``rule-crashed`` *error* naming the stage or
check and the file, on one line, so the hook exits 1 and the others' findings still show.

The traceback, which is what a maintainer needs, goes to stderr when ``KOPS_GITSYNC_DEBUG``
is set (to anything but ``""`` or ``"0"``); pre-commit shows a failing hook's stderr, so
re-running the commit with the variable set is all it takes to capture it. It is not
written by default: one line per problem is the contract of every hook.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable

from kops_gitsync.validate.issues import Issue

DEBUG_ENV = "KOPS_GITSYNC_DEBUG"
_MAX_DETAIL = 160


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def crash_issue(stage: str, key: str, exc: BaseException) -> Issue:
    """The one-line error for ``stage`` (a check name, "loader", ...) crashing on ``key``."""
    detail = " ".join(str(exc).split())
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    kind = type(exc).__name__
    hint = "traceback on stderr" if debug_enabled() else f"set {DEBUG_ENV}=1 for the traceback"
    if debug_enabled():
        import traceback  # only after a crash, and only when asked for

        print(f"kops-gitsync: {stage} crashed on {key}:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    return Issue(
        "rule-crashed",  # declared in rules/catalog.py, which imports the rules: not here
        key,
        (),
        f"{stage} crashed on this file ({kind}{': ' + detail if detail else ''}), so it is"
        f" not fully checked; please report it with the file ({hint})",
        line=1,
        column=1,
    )


def guarded(stage: str, key: str, produce: Callable[[], Iterable[Issue]]) -> list[Issue]:
    """``produce()``'s issues, or one ``rule-crashed`` error when it raises."""
    try:
        return list(produce())
    except Exception as exc:  # the point: any bug becomes a finding
        return [crash_issue(stage, key, exc)]
