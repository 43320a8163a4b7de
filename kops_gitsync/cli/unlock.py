"""``kops-gitsync unlock``: show the store lock, and with ``--yes`` remove it.

It removes *any* lock object, whatever it holds (a lock from a crashed push, one written by
a newer version, garbage): an object the tool cannot read is exactly the one nothing else
can clear. The delete is conditional on the version that was shown, so a lock that changed
hands in between is not removed blind. When the holder still looks alive it says so: the
next push normally finishes on its own, and a daemon renews its lease until it is stopped.
"""

from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments, contexts
from kops_gitsync.errors import FatalError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="remove it; without it, only show")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.errors import PreconditionFailed
    from kops_gitsync.sync.lock import StoreLock, holder_gone
    from kops_gitsync.sync.policy import LOCK_KEY

    for ctx in contexts(args):
        try:
            current = StoreLock.inspect(ctx.store)
            if current.version is None:
                print(f"{ctx.name}: not locked")
                continue
            print(f"{ctx.name}: locked, {current.describe()}")
            info = current.info
            if info is not None and not info.expired and not holder_gone(info):
                what = ("a daemon holding its lease (stop that daemon instead: it releases the "
                        "lease)" if info.operation == "daemon" else "an operation in progress")
                print(f"  the holder may still be running, as {what}; removing the lock lets a "
                      "second writer in beside it")
            if not args.yes:
                print("(run again with --yes to remove it)")
                continue
            try:
                ctx.store.delete(LOCK_KEY, if_match=current.version)
            except (PreconditionFailed, FileNotFoundError):
                raise FatalError(
                    f"{ctx.name}: the lock {LOCK_KEY} changed hands while unlocking; nothing "
                    "was removed, look again"
                ) from None
            print(f"{ctx.name}: lock removed")
        finally:
            ctx.close()
    return 0
