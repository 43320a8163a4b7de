"""``python -m tests.attack.measure [--memfs URL N] [--twice] -- ARGS``: run
``kops-gitsync ARGS`` in this process and print, last on stderr, one line
``MEASURE {"code", "seconds", "maxrss_mb"}``: the peak resident memory of this process
alone, which a test cannot get for one command from ``RUSAGE_CHILDREN`` (that is the
largest child so far).

``--memfs URL N``: first seed memfs store URL (memfs lives in one process) with the valid
minimal-aws cluster and N small extra objects. ``--twice``: run the command twice (the
second pull of an unchanged store), one MEASURE line each (the peak is cumulative).
"""

from __future__ import annotations

import json
import resource
import sys
import time

from kops_gitsync.cli.main import main as cli_main


def seed(url: str, count: int) -> None:
    from kops_gitsync.vfs import memfs
    from kops_gitsync.vfs.base import Blob
    from tests.attack.helpers import CLUSTER, VALID_OBJECTS

    tree = {key: Blob(data, f"v{n}") for n, (key, data) in enumerate(VALID_OBJECTS.items())}
    for n in range(count):
        tree[f"{CLUSTER}/addons/junk/o{n:06d}.yaml"] = Blob(b"k: %d\n" % n, f"j{n}")
    memfs._TREES[url] = tree


def main(argv: list[str]) -> int:
    split = argv.index("--")
    opts, args = argv[:split], argv[split + 1:]
    if "--memfs" in opts:
        at = opts.index("--memfs")
        seed(opts[at + 1], int(opts[at + 2]))
    code = 0
    for _run in range(2 if "--twice" in opts else 1):
        started = time.monotonic()
        code = cli_main(args)
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print("MEASURE " + json.dumps({"code": code, "seconds": round(seconds, 2),
                                       "maxrss_mb": peak}), file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
