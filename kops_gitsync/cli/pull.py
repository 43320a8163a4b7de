from __future__ import annotations

import argparse
import dataclasses

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.output import JsonReport, add_format_argument
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
    add_format_argument(parser)
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

    report = JsonReport("pull") if args.format == "json" else None
    since: float | None = None
    if args.since is not None:
        if not args.history:
            raise FatalError("--since only bounds --history; add --history")
        from kops_gitsync.sync.history import parse_since

        since = parse_since(args.since)

    def one(ctx: SyncContext) -> None:
        history = None
        if args.history:
            from kops_gitsync.sync.history import import_history

            history = import_history(ctx, since=since)
            if report is None:
                print(history.summary)
        # No progress bar in JSON mode: the document is for a program, stderr stays quiet.
        result = pull(ctx, merge=not args.no_merge, progress=report is None,
                      allow_empty=args.allow_empty)
        if report is not None:
            entry = {**dataclasses.asdict(result), "url": ctx.url}
            if history is not None:
                entry["history"] = history.summary
            report.stores.append(entry)
            return
        print(result.summary)

    if report is None:
        return run_each(args, "pull", one)
    with report.printed():
        return run_each(args, "pull", report.guarded(lambda c: c.name, one))
