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
        conflicts = conflicts or status.failed
        if report is not None:
            report.stores.append({**dataclasses.asdict(status), "failed": status.failed,
                                  "writers": list(writers)})
            return
        print(status.render())
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
