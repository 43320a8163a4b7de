"""``python -m tests.attack.measure [--memfs URL N] [--twice] -- ARGS``: run
``kops-gitsync ARGS`` in this process and print, last on stderr, one line
``MEASURE {"code", "seconds", "maxrss_mb", "ru_maxrss_mb"}``: the peak resident memory
of this process alone, which a test cannot get for one command from ``RUSAGE_CHILDREN``
(that is the largest child so far).

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


def _peak_mb() -> int | None:
    """This program's own peak RSS (VmHWM). ``ru_maxrss`` keeps the high-water mark of the
    process image before ``exec``: started from a big pytest process, it reported pytest's
    size (94 to 139 MB) for a pull that used 28 MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


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
        rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print("MEASURE " + json.dumps({"code": code, "seconds": round(seconds, 2),
                                       "maxrss_mb": _peak_mb() or rusage,
                                       "ru_maxrss_mb": rusage}), file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
