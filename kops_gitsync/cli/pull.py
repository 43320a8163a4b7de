from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.per_store import run_each
from kops_gitsync.errors import FatalError
from kops_gitsync.sync.context import SyncContext


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument(
        "--no-merge", action="store_true",
        help="only record the store state on its observed ref; do not merge it",
    )
    parser.add_argument(
        "--allow-empty", action="store_true", help="accept a store that lists no objects"
    )
    parser.add_argument(
        "--history", action="store_true",
        help="first import the store's past from its bucket's kept versions (S3 versioning, "
        "GCS object versioning) as observed commits; only before a store's first pull",
    )
    parser.add_argument(
        "--since", metavar="DATE",
        help="with --history: start from the store as it was at DATE (2026-01-31 or "
        "2026-01-31T12:00:00Z, UTC)",
    )


def run(args: argparse.Namespace) -> int:
    """Every selected store is pulled even when an earlier one fails."""
    from kops_gitsync.sync.pull import pull

    since: float | None = None
    if args.since is not None:
        if not args.history:
            raise FatalError("--since only bounds --history; add --history")
        from kops_gitsync.sync.history import parse_since

        since = parse_since(args.since)

    def one(ctx: SyncContext) -> None:
        if args.history:
            from kops_gitsync.sync.history import import_history

            print(import_history(ctx, since=since).summary)
        result = pull(ctx, merge=not args.no_merge, progress=True, allow_empty=args.allow_empty)
        print(result.summary)

    return run_each(args, "pull", one)
