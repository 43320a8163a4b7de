"""``kops-gitsync log KEY``: the observed changes of one store object, and its last writer."""

from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.per_store import run_each
from kops_gitsync.sync.context import SyncContext


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY",
                        help="a store key (prod.example.com/instancegroup/nodes) or its mirror "
                             "path")
    parser.add_argument("-n", "--max-count", dest="limit", type=_positive, default=20,
                        help="show at most N changes (default 20)")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """One block per selected store; no git or store state is changed."""
    from kops_gitsync.sync.objectlog import key_history, render, store_key

    def one(ctx: SyncContext) -> None:
        key = store_key(ctx, args.key)
        print(render(ctx, key, key_history(ctx, key, args.limit), args.limit))

    return run_each(args, "log", one)
