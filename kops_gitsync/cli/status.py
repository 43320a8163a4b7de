from __future__ import annotations

import argparse

from kops_gitsync.cli.common import add_store_arguments, contexts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.daemon.state import describe, read_state
    from kops_gitsync.sync.status import store_status

    worst = 0
    git_dir = None
    for ctx in contexts(args):
        git_dir = ctx.repo.git_dir
        try:
            status = store_status(ctx)
        finally:
            ctx.close()
        print(status.render())
        if status.failed:
            worst = 1
    daemon = read_state(git_dir) if git_dir is not None else None
    if daemon is not None:
        print("\n".join(describe(daemon)))
    return worst
