from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.per_store import run_each
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


def run(args: argparse.Namespace) -> int:
    """Every selected store is pulled even when an earlier one fails."""
    from kops_gitsync.sync.pull import pull

    def one(ctx: SyncContext) -> None:
        result = pull(ctx, merge=not args.no_merge, progress=True, allow_empty=args.allow_empty)
        print(result.summary)

    return run_each(args, "pull", one)
