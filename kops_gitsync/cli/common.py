"""Arguments every sync verb shares, and turning them into contexts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kops_gitsync.sync.context import SyncContext, open_contexts


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, help="the review repository (default: here)")
    parser.add_argument("--store", help="one store of .kops-gitsync.yaml (default: all)")
    parser.add_argument(
        "--state",
        help="state store URL (default as kops: KOPS_STATE_STORE, ~/.kops.yaml, ~/.kops/config)",
    )
    parser.add_argument(
        "--refresh-capabilities", action="store_true",
        help="ask the store again what it enforces (conditional writes, default encryption) "
             "instead of using the answer cached for a day",
    )


def store_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment stores are opened with: the process's, plus what the flags ask."""
    env: dict[str, str] = dict(os.environ)
    if getattr(args, "refresh_capabilities", False):
        from kops_gitsync.vfs.capcache import REFRESH_VAR

        env[REFRESH_VAR] = "1"
    return env


def contexts(args: argparse.Namespace) -> list[SyncContext]:
    return open_contexts(args.repo, args.store, args.state, store_env(args))
