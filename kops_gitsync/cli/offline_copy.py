"""``kops-gitsync offline-copy DIR``: a throwaway copy of a mirror that kops cannot leave.

A pulled mirror is a valid ``file://`` store, but each Cluster names its real store in
``spec.configBase`` and kops follows it: ``kops get secrets --state file://<mirror>`` reads the
live bucket, ``kops create sshpublickey`` writes to it. This copy rewrites the configBase URL
(and every URL under it: keyStore, secretStore, etcd backupStore) in each cluster's ``config``
and ``cluster-completed.spec`` to the copy's own ``file://`` URL, so every kops command run
against the copy stays in the copy. Everything else is copied byte for byte; the mirror and
its git repository are not touched. A URL left outside configBase (a keyStore on another
bucket) is reported, not guessed at.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from kops_gitsync.errors import FatalError

REWRITTEN = ("config", "cluster-completed.spec")
_CONFIG_BASE = re.compile(r"""^\s*configBase:\s*["']?([^"'\s#]+)""", re.MULTILINE)
_STORE_URL = re.compile(
    r"""^\s*-?\s*(configBase|keyStore|secretStore|backupStore):\s*["']?([a-z0-9]+://[^"'\s#]+)""",
    re.MULTILINE,
)


def rewrite(text: str, old_base: str, new_base: str) -> str:
    """``text`` with the URL ``old_base`` (alone or as a prefix of a path) made ``new_base``."""
    return re.sub(re.escape(old_base) + r"""(?=[/"'\s]|$)""", new_base, text)


def make_copy(mirror: Path, dest: Path) -> tuple[list[str], list[str]]:
    """Copy ``mirror`` to ``dest`` with configBase rewritten; (clusters, warnings)."""
    clusters = sorted(p.parent.name for p in mirror.glob("*/config") if p.is_file())
    if not mirror.is_dir() or not clusters:
        raise FatalError(f"{mirror}: no cluster folder (<cluster>/config) here; pass the "
                         "mirror folder with --from (default: state)")
    if dest.exists() and any(dest.iterdir()):
        raise FatalError(f"{dest}: exists and is not empty; an offline copy goes in a new folder")
    dest = dest.resolve()
    shutil.copytree(mirror, dest, dirs_exist_ok=True)
    warnings: list[str] = []
    for cluster in clusters:
        new_base = f"file://{dest}/{cluster}"
        config = dest / cluster / "config"
        found = _CONFIG_BASE.search(config.read_text(encoding="utf-8"))
        old_base = found.group(1) if found else None
        for name in REWRITTEN:
            path = dest / cluster / name
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            if old_base is not None:
                text = rewrite(text, old_base, new_base)
                path.write_text(text, encoding="utf-8")
            for match in _STORE_URL.finditer(text):
                if not match.group(2).startswith(f"file://{dest}/"):
                    line = text.count("\n", 0, match.start(2)) + 1
                    warnings.append(f"{path}:{line}: {match.group(1)} still names "
                                    f"{match.group(2)}; kops commands that use it reach that store")
    return clusters, warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dest", type=Path, metavar="DIR", help="a new folder for the copy")
    parser.add_argument("--from", dest="mirror", type=Path, default=Path("state"),
                        help="the mirror folder in the review repository (default: state)")


def run(args: argparse.Namespace) -> int:
    clusters, warnings = make_copy(args.mirror, args.dest)
    for warning in warnings:
        print(f"warning: {warning}")
    url = f"file://{args.dest.resolve()}"
    print(f"offline copy of {len(clusters)} cluster(s) in {args.dest}: configBase points into it")
    print(f"  kops get clusters --state {url}   (no secrets or private keys: git never had them)")
    return 0
