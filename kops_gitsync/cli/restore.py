"""``kops-gitsync restore``: rebuild a store, or one cluster, from a commit (docs/backup.md).

The target need not be the store the mirror came from (``--to``): a new bucket after the
old one was deleted, another scheme, a local folder. Only the repository and the config
are needed; the original store is never opened (it may be gone).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kops_gitsync.errors import FatalError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, help="the review repository (default: here)")
    parser.add_argument("--store", help="the store of .kops-gitsync.yaml to restore "
                        "(needed when it names several)")
    parser.add_argument("--commit", default="HEAD", metavar="REV",
                        help="the commit to restore from (default: HEAD)")
    parser.add_argument("--to", metavar="URL",
                        help="the store to write (default: the store's own URL)")
    parser.add_argument("--cluster", metavar="NAME", help="restore only this cluster")
    parser.add_argument("--force", action="append", default=[], metavar="KEY",
                        help="replace this object although it exists with other content "
                        "(repeatable)")
    parser.add_argument("--partial", action="store_true",
                        help="restore although some objects cannot come from git (named)")
    parser.add_argument("--yes", action="store_true", help="write; without it, only the plan")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.backup.restore import restore
    from kops_gitsync.config.repo_config import load_repo_config
    from kops_gitsync.gitrepo.repo import GitRepo
    from kops_gitsync.sync.context import SyncContext, bound_url, resolve_url
    from kops_gitsync.vfs.registry import open_store

    repo = GitRepo.open(args.repo)
    config = load_repo_config(repo.root).store(args.store)
    url = args.to or resolve_url(config, None, os.environ, bound_url(repo, config.name))
    if not url:
        raise FatalError("no store to restore into: pass --to URL")
    _refuse_inside(repo.root, url)
    ctx = SyncContext(repo, config, open_store(url, os.environ), url)
    try:
        _plan, report = restore(ctx, args.commit, cluster=args.cluster, force=args.force,
                                apply=args.yes, partial=args.partial)
    finally:
        ctx.close()
    print(report)
    return 0


def _refuse_inside(root: Path, url: str) -> None:
    """A file:// target inside the repository would put decrypted secrets in its work tree."""
    from kops_gitsync.vfs.registry import normalize_url, scheme_of

    if scheme_of(url) != "file":
        return
    path = normalize_url(url).removeprefix("file://")
    target = Path(path).expanduser().resolve()
    if target == root.resolve() or root.resolve() in target.parents:
        raise FatalError(f"--to {url} is inside the repository {root}: a restore writes "
                         "secrets in plaintext; restore into a folder outside it")
