from __future__ import annotations

import argparse
import dataclasses

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.output import JsonReport, add_format_argument
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
    add_format_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Every selected store is pulled even when an earlier one fails."""
    from kops_gitsync.sync.pull import pull

    report = JsonReport("pull") if args.format == "json" else None

    def one(ctx: SyncContext) -> None:
        # No progress bar in JSON mode: the document is for a program, stderr stays quiet.
        result = pull(ctx, merge=not args.no_merge, progress=report is None,
                      allow_empty=args.allow_empty)
        if report is not None:
            report.stores.append({**dataclasses.asdict(result), "url": ctx.url})
            return
        print(result.summary)

    if report is None:
        return run_each(args, "pull", one)
    with report.printed():
        return run_each(args, "pull", report.guarded(lambda c: c.name, one))
