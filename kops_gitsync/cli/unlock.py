from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments, contexts
from kops_gitsync.errors import FatalError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="remove it; without it, only show")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.errors import PreconditionFailed
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.sync.policy import LOCK_KEY

    for ctx in contexts(args):
        try:
            info, version = StoreLock.holder(ctx.store)
            if version is None:
                print(f"{ctx.name}: not locked")
                continue
            held = info.describe() if info else "unreadable lock object"
            print(f"{ctx.name}: locked, {held}")
            if not args.yes:
                print("(run again with --yes to remove it)")
                continue
            try:
                ctx.store.delete(LOCK_KEY, if_match=version)
            except (PreconditionFailed, FileNotFoundError):
                raise FatalError("the lock changed hands while unlocking; look again") from None
            print(f"{ctx.name}: lock removed")
        finally:
            ctx.close()
    return 0
