from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments, contexts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.sync.status import store_status

    worst = 0
    for ctx in contexts(args):
        try:
            status = store_status(ctx)
        finally:
            ctx.close()
        print(status.render())
        if status.conflicts:
            worst = 1
    return worst
