from __future__ import annotations

import argparse
from typing import Any

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.output import JsonReport, add_format_argument
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
    add_format_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Every selected store is pushed (or planned) even when an earlier one is refused.

    The dry run shows the object plan and, below it, the semantic plan (field changes and
    risk flags, kops_gitsync/review/); ``--format json`` prints both as one document."""
    from kops_gitsync.review.gitsource import plan_review
    from kops_gitsync.review.render import render_text, store_json
    from kops_gitsync.sync.publish import publish_observed
    from kops_gitsync.sync.push import PushResult, push

    report = JsonReport("push") if args.format == "json" else None

    def one(ctx: SyncContext) -> None:
        result = push(ctx, apply=args.yes, branch=args.branch, max_delete=args.max_delete,
                      validate=not args.skip_validation)
        shown = result.sides is not None and (report is not None or not args.yes)
        review = plan_review(ctx, result.sides, result.plan) if shown and result.sides else None
        published = None
        if result.observed_commit is not None:  # the record of this write, for every clone
            published = publish_observed(ctx, result.branch)
        if report is not None:
            entry: dict[str, Any] = store_json(review) if review else {"store": ctx.name}
            entry["push"] = _push_json(result, published)
            report.stores.append(entry)
            return
        print(result.summary)
        if review is not None and not args.yes and not review.empty:
            print(render_text([review]))
        if published:
            print(published)
        if not args.yes and result.plan.actions:
            print("(dry run: nothing was written; run again with --yes to apply)")

    def _push_json(result: PushResult, published: str | None) -> dict[str, Any]:
        plan = result.plan
        return {
            "branch": result.branch, "commit": result.commit, "applied": result.applied,
            "dry_run": not args.yes,
            "actions": [{"op": a.op.value, "key": a.key} for a in plan.actions],
            "already_applied": plan.already_applied, "store_only": plan.store_only,
            "written": result.written, "deleted": result.deleted,
            "observed_commit": result.observed_commit, "published": published,
            "text": result.summary,
        }

    if report is None:
        return run_each(args, "push", one)
    with report.printed():
        return run_each(args, "push", report.guarded(lambda c: c.name, one))
