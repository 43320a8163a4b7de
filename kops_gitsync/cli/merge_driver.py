"""``kops-gitsync merge-driver %O %A %B %P``: git's merge driver for kops YAML.

git calls it with the base, ours (which receives the result) and theirs as temporary files,
plus the path for messages, for every file that ``.gitattributes`` marks
``merge=kops-yaml`` (``kops-gitsync install-hooks`` writes both). Exit 0 means merged
cleanly; exit 1 leaves conflict markers in the file and git stops the merge, as it would
without a driver.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", type=Path, help="%%O: the common ancestor's version")
    parser.add_argument("ours", type=Path, help="%%A: our version; receives the result")
    parser.add_argument("theirs", type=Path, help="%%B: their version")
    parser.add_argument("path", nargs="?", default="", help="%%P: the path, for messages")
    parser.add_argument("--marker-size", type=int, default=7, help="%%L: conflict marker size")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.errors import FatalError
    from kops_gitsync.merge import merge_files

    try:
        base, ours, theirs = (p.read_bytes() for p in (args.base, args.ours, args.theirs))
    except OSError as exc:
        raise FatalError(f"cannot read a merge input: {exc}") from None
    result = merge_files(base, ours, theirs, args.path, args.marker_size)
    args.ours.write_bytes(result.text)
    if result.clean:
        return 0
    where = args.path or str(args.ours)
    shown = ", ".join(result.conflicts[:10]) + (" ..." if len(result.conflicts) > 10 else "")
    print(f"kops-gitsync merge-driver: {where}: both sides changed {shown}", file=sys.stderr)
    return 1
