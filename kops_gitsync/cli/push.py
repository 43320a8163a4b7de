from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.per_store import run_each
from kops_gitsync.sync.context import SyncContext


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="apply; without it, only the plan")
    parser.add_argument("--branch", help="the approved branch to push (default: current)")
    parser.add_argument(
        "--max-delete", type=int, help="allow up to N deletions in this push (overrides config)"
    )
    parser.add_argument(
        "--skip-validation", action="store_true",
        help="write objects that fail the kops checks the hooks run (they block by default)",
    )


def run(args: argparse.Namespace) -> int:
    """Every selected store is pushed (or planned) even when an earlier one is refused."""
    from kops_gitsync.sync.publish import publish_observed
    from kops_gitsync.sync.push import push

    def one(ctx: SyncContext) -> None:
        result = push(ctx, apply=args.yes, branch=args.branch, max_delete=args.max_delete,
                      validate=not args.skip_validation)
        print(result.summary)
        if result.observed_commit is not None:  # the record of this write, for every clone
            published = publish_observed(ctx, result.branch)
            if published:
                print(published)
        if not args.yes and result.plan.actions:
            print("(dry run: nothing was written; run again with --yes to apply)")

    return run_each(args, "push", one)
