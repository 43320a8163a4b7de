"""``kops-gitsync migrate --from A --to B [--cluster NAME]... [--yes]``.

A and B are state store URLs (any scheme; a path without ``://`` is a local folder, as in
kops) or store names from ``.kops-gitsync.yaml`` (their ``state:``, else the URL they were
pulled from). A plan unless ``--yes``. See backup/migrate.py and docs/migrate.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kops_gitsync.errors import FatalError

if TYPE_CHECKING:
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.vfs.base import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="STORE",
                        help="the store to copy from (URL or a store name of .kops-gitsync.yaml)")
    parser.add_argument("--to", dest="target", required=True, metavar="STORE",
                        help="the store to copy to (URL or a store name)")
    parser.add_argument("--cluster", action="append", metavar="NAME",
                        help="migrate this cluster only (repeatable; default: every object)")
    parser.add_argument("--yes", action="store_true",
                        help="copy (default: show the plan and write nothing)")
    parser.add_argument("--repo", type=Path,
                        help="the review repository whose store names to use (default: here)")


def resolve_store(text: str, repo_dir: Path | None) -> str:
    """A store name of the repository's config, else the text as a URL."""
    from kops_gitsync.config.kops_resolution import trim_trailing_slash

    if "://" not in text and "/" not in text and not text.startswith("."):
        try:
            from kops_gitsync.config.repo_config import load_repo_config
            from kops_gitsync.gitrepo.repo import GitRepo
            from kops_gitsync.sync.context import bound_url

            repo = GitRepo.open(repo_dir)
            config = load_repo_config(repo.root)
            names = {s.name: s for s in config.stores}
        except FatalError:
            names, repo = {}, None
        if text in names and repo is not None:
            url = names[text].state or bound_url(repo, text)
            if url is None:
                raise FatalError(f"store {text!r} of .kops-gitsync.yaml has no `state:` and was "
                                 "never pulled, so its URL is unknown: give the URL instead")
            return trim_trailing_slash(url)
        raise FatalError(f"{text!r} is neither a store name of .kops-gitsync.yaml nor a state "
                         "store URL (write s3://bucket/path, gs://..., or ./folder)")
    return trim_trailing_slash(text)


FENCE_INTERVAL = 1.0  # seconds between two checks of the target's lock while copying


def fenced_every(lock: StoreLock, interval: float) -> Store:
    """The locked store, checking the lock before a write at most every ``interval`` s.

    Push checks it before every write because its replaces would overwrite whatever a new
    holder wrote. Every migrate write is conditional (create-if-absent, or replace-if-still-
    what-migrate-wrote), so a write that races a lost lock can only fail, never clobber;
    checking once a second still stops a copy whose lock was taken within a second, and
    halves the requests of a large copy.
    """
    import threading
    import time

    from kops_gitsync.vfs.guarded import GuardedStore

    last = [0.0]
    mutex = threading.Lock()

    def check(_key: str) -> None:
        with mutex:
            now = time.monotonic()
            if now - last[0] < interval:
                return
            lock.ensure_held()
            last[0] = time.monotonic()

    return GuardedStore(lock.store, check)


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.backup.migrate import (
        apply_migration,
        next_steps,
        plan_migration,
        refuse_conflicts,
        verify,
    )
    from kops_gitsync.sync.lock import StoreLock
    from kops_gitsync.vfs.registry import open_store, scheme_of

    source_url = resolve_store(args.source, args.repo)
    target_url = resolve_store(args.target, args.repo)
    for url in (source_url, target_url):
        if scheme_of(url) == "k8s":
            raise FatalError(
                f"{url}: migrate copies whole stores, and k8s:// holds only the Cluster and "
                "InstanceGroup objects (keys, secrets and generated files stay in the store "
                "configBase names); move those with kops itself (`kops get -o yaml`, "
                "`kops create -f`)")
    folder = None
    if scheme_of(target_url) == "file":  # a new local store is a folder still to be made
        folder = Path(target_url.removeprefix("file://"))
        folder = None if folder.exists() else folder
    source = open_store(source_url, os.environ)
    try:
        if folder is not None:
            print(f"{folder} does not exist yet" + (": creating it" if args.yes else
                                                     "; --yes creates it"))
            if args.yes:
                folder.mkdir(parents=True)
        target = open_store(target_url, os.environ)
        try:
            plan = plan_migration(source, target, args.cluster,
                                  target_exists=folder is None or args.yes)
            print(plan.render())
            sys.stdout.flush()
            refuse_conflicts(plan)
            if not args.yes:
                print("dry run: nothing was written; run again with --yes to copy")
                return 0
            with StoreLock(target, f"migrate from {plan.source_url}") as lock:
                written = apply_migration(plan, fenced_every(lock, FENCE_INTERVAL))
                print(f"copied {len(written)} object(s) into {plan.target_url}")
                print(verify(plan, source, target))
            print("\n".join(next_steps(plan)))
            return 0
        finally:
            target.close()
    finally:
        source.close()
