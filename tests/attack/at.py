"""``python -m tests.attack.at EPOCH ARGS``: ``python -m kops_gitsync ARGS``, started at
wall-clock time EPOCH. The interpreter and the push modules are loaded first, so two
processes started this way race from the same instant instead of 200 ms of start-up apart."""

from __future__ import annotations

import sys
import time

import kops_gitsync.sync.push  # noqa: F401  (loaded before the start line, not after)
from kops_gitsync.cli.main import main

if __name__ == "__main__":
    time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
    raise SystemExit(main(sys.argv[2:]))
