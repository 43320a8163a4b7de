"""Run a sync verb on every selected store, and report every store, not only the first failure.

``push`` without ``--store`` used to stop at the first store that refused (unapproved branch,
too many deletions, a store that cannot be reached), so the stores after it were silently not
pushed, pulled or shown. Now each store runs on its own; a failure is printed as it happens,
the others still run, and the command ends with one line per store and exit status 1 if any
failed. With ``--store`` (or a single store) nothing changes: the one error is the error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kops_gitsync.cli.common import store_env
from kops_gitsync.errors import FatalError, StoreError
from kops_gitsync.sync.context import SyncContext, open_contexts


def _store_names(repo_dir: Path | None) -> list[str]:
    from kops_gitsync.config.repo_config import load_repo_config
    from kops_gitsync.gitrepo.repo import GitRepo

    return [store.name for store in load_repo_config(GitRepo.open(repo_dir).root).stores]


def run_each(args: argparse.Namespace, verb: str, action: Callable[[SyncContext], None]) -> int:
    """``action`` on every selected store's context (closed afterwards); 1 if any failed."""
    names = [args.store] if args.store is not None else _store_names(args.repo)
    if len(names) == 1 or args.state:
        # One store (or --state, which names one store: open_contexts says so if it does not)
        for ctx in open_contexts(args.repo, args.store, args.state, store_env(args)):
            try:
                action(ctx)
            finally:
                ctx.close()
        return 0
    outcomes: list[tuple[str, str | None]] = []
    for name in names:
        try:
            for ctx in open_contexts(args.repo, name, None, store_env(args)):
                try:
                    action(ctx)
                finally:
                    ctx.close()
        except (FatalError, StoreError, OSError) as exc:
            kind = "store error" if isinstance(exc, StoreError) else "error"
            text = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
            print(f"kops-gitsync {verb}: store {name!r}: {kind}: {text}", file=sys.stderr)
            outcomes.append((name, text.splitlines()[0] if text else kind))
        else:
            outcomes.append((name, None))
        sys.stdout.flush()
    failed = [name for name, problem in outcomes if problem is not None]
    if not failed:
        return 0
    lines = [f"{verb} failed for {len(failed)} of {len(outcomes)} stores:"]
    lines += [f"  {name}: {problem or 'ok'}" for name, problem in outcomes]
    raise FatalError("\n".join(lines))
