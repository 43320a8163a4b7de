from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from kops_gitsync.cli.common import add_store_arguments
from kops_gitsync.cli.output import JsonReport, add_format_argument
from kops_gitsync.cli.per_store import run_each
from kops_gitsync.sync.context import SyncContext


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    add_format_argument(parser)


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
    report = JsonReport("status") if args.format == "json" else None

    def one(ctx: SyncContext) -> None:
        nonlocal conflicts
        git_dirs.append(ctx.repo.git_dir)
        status = store_status(ctx)
        writers = (writer_lines(ctx.store, status.conflicts + status.store_ahead)
                   if status.observed is not None else [])
        warnings = config_base_warnings(ctx, status.observed)
        conflicts = conflicts or status.failed
        if report is not None:
            report.stores.append({**dataclasses.asdict(status), "failed": status.failed,
                                  "writers": list(writers), "warnings": warnings})
            return
        print(status.render())
        for line in warnings:
            print(f"  ! warning: {line}")
        for line in writers:  # never pulled: every object is "ahead", say no more
            print(line)

    def daemon_lines() -> list[str]:
        daemon = read_state(git_dirs[0]) if git_dirs else None
        return describe(daemon) if daemon is not None else []

    if report is not None:
        with report.printed():
            try:
                code = run_each(args, "status", report.guarded(lambda c: c.name, one))
            finally:
                report.extra["daemon"] = daemon_lines()
        return 1 if conflicts else code
    try:
        code = run_each(args, "status", one)
    finally:
        lines = daemon_lines()
        if lines:
            print("\n".join(lines))
    return 1 if conflicts else code
