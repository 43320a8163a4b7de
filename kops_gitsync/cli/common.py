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


def contexts(args: argparse.Namespace) -> list[SyncContext]:
    return open_contexts(args.repo, args.store, args.state, os.environ)
