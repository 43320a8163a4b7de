from __future__ import annotations

import argparse
from pathlib import Path

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.per_store import run_each
from kops_gitsync.sync.context import SyncContext


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)


def config_base_warnings(ctx: SyncContext, observed: str | None) -> list[str]:
    """kops #2919: clusters of the last observed state whose configBase is elsewhere."""
    from kops_gitsync.backup.configbase import store_mismatches

    tree = ctx.repo.read_tree(observed, ctx.mirror_path) if observed else {}
    configs = {key: ctx.repo.read_blob(entry.sha) for key, entry in tree.items()
               if key.count("/") == 1 and key.endswith("/config")}
    return [message for _cluster, message in store_mismatches(ctx.url, configs)]


def run(args: argparse.Namespace) -> int:
    """Every selected store is shown even when an earlier one cannot be read; exit 1 on
    conflicts or on a store that failed."""
    from kops_gitsync.daemon.state import describe, read_state
    from kops_gitsync.sync.objectlog import writer_lines
    from kops_gitsync.sync.status import store_status

    conflicts = False
    git_dirs: list[Path] = []

    def one(ctx: SyncContext) -> None:
        nonlocal conflicts
        git_dirs.append(ctx.repo.git_dir)
        status = store_status(ctx)
        print(status.render())
        for line in config_base_warnings(ctx, status.observed):
            print(f"  ! warning: {line}")
        if status.observed is not None:  # never pulled: every object is "ahead", say no more
            for line in writer_lines(ctx.store, status.conflicts + status.store_ahead):
                print(line)
        conflicts = conflicts or status.failed

    try:
        code = run_each(args, "status", one)
    finally:
        daemon = read_state(git_dirs[0]) if git_dirs else None
        if daemon is not None:
            print("\n".join(describe(daemon)))
    return 1 if conflicts else code
