"""``kops-gitsync diff [REV_RANGE]``: the semantic plan of a change, from git alone.

Without a range: what ``push`` would write from the current branch (or ``--branch``) if the
store still holds its newest observed state. With a range (``main..feature``,
``origin/main...HEAD``, ``A B``): the difference between those commits' mirrors. The store is
never contacted, so a CI job without store credentials can post the plan on a pull request.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("text", "markdown", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "revs", nargs="*", metavar="REV_RANGE",
        help="A..B, A...B (from their merge base), or A B; default: what push would write",
    )
    parser.add_argument("--repo", type=Path, help="the review repository (default: here)")
    parser.add_argument("--store", help="one store of .kops-gitsync.yaml (default: all)")
    parser.add_argument("--branch", help="without a range: the branch push would push")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--output", "-o", type=Path,
                        help="write the plan to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.config.repo_config import load_repo_config
    from kops_gitsync.errors import FatalError
    from kops_gitsync.gitrepo.repo import GitRepo
    from kops_gitsync.review.gitsource import (
        offline_context,
        parse_range,
        pending_review,
        range_review,
    )
    from kops_gitsync.review.model import StoreReview
    from kops_gitsync.review.render import render

    if args.revs and args.branch:
        raise FatalError("--branch is for the pending change; a range names its own commits")
    repo = GitRepo.open(args.repo)
    configs = load_repo_config(repo.root).select(args.store)
    revisions = parse_range(repo, args.revs) if args.revs else None
    reviews: list[StoreReview] = []
    for config in configs:
        ctx = offline_context(repo, config)
        try:
            if revisions is not None:
                reviews.append(range_review(ctx, revisions))
            else:
                reviews.append(pending_review(ctx, args.branch))
        except FatalError as exc:
            if len(configs) == 1:
                raise
            reviews.append(StoreReview(ctx.name, ctx.url, None, None, error=str(exc)))
    text = render(reviews, args.format, "diff")
    if args.output is not None:
        args.output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if any(r.error for r in reviews) else 0
