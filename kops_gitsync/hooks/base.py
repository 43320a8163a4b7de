"""What every hook shares: the run context and where kops objects live in the repository.

A path in the review repository is a kops object when it lies under a configured store's
``path`` (``.kops-gitsync.yaml``) or, for repositories that keep stores without a config
file, under a folder whose ``<cluster>/config`` in the index is a ``kind: Cluster``. Both
give the same answer for the default layout; the second lets the hooks check a plain copy
of a store.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TextIO

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.gitrepo import staged
from kops_gitsync.gitrepo.reader import GitReader
from kops_gitsync.hooks.index_listing import HookReader

STAGES = ("commit", "merge", "push")
_CLUSTER = re.compile(rb"^kind:[ \t]*[\"']?Cluster[\"']?[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class ObjectPath:
    """A repository path seen as a store object."""

    path: str  # repository-relative
    key: str  # relative to the store folder: "<cluster>/config", ".well-known/..."
    store: StoreConfig | None  # None: found by a <cluster>/config, no config entry
    cluster_dir: str | None  # repository-relative folder of the cluster, if any

    @property
    def in_cluster(self) -> str:
        """The key inside the cluster folder ("config", "instancegroup/nodes")."""
        return self.key.partition("/")[2]

    @property
    def is_cluster_spec(self) -> bool:
        return self.cluster_dir is not None and is_spec_key(self.in_cluster)


KOPS_VERSION_FILE = "kops-version.txt"  # validate.engine.KOPS_VERSION_KEY, without its import
# Where ``secrets: encrypt`` keeps its age copies: backup.crypt's ENCRYPTED_DIR, SUFFIX and
# copy_dir, repeated. Importing that module (the sync state, the storage layer, a thread
# pool) cost every commit about 25 ms of CPU for two constants (issue 16);
# tests/hooks/test_hook_lean_imports.py keeps the two copies equal.
ENCRYPTED_DIR = ".kops-gitsync/encrypted"
ENCRYPTED_SUFFIX = ".age"


def copy_dir(store: str) -> str:
    """The folder of the age copies of ``store`` (backup.crypt.copy_dir)."""
    return f"{ENCRYPTED_DIR}/{store}"


def is_spec_key(rest: str) -> bool:
    """``config`` or ``instancegroup/<name>``: the objects validation looks at."""
    return rest == "config" or (rest.startswith("instancegroup/") and rest.count("/") == 1)


@dataclass
class HookContext:
    root: Path
    files: list[str]
    stage: str
    push_refs: list[staged.PushRef] = field(default_factory=list)
    push_remote: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    # Judge every file in the index, not just the change (``hook checks`` run by hand or
    # in CI, ``pre-commit run --all-files``): the change-based checks see the whole tree.
    whole_repo: bool = False
    # Warnings block too (``--strict``): for teams that want nothing kops would drop silently.
    strict: bool = False

    @functools.cached_property
    def reader(self) -> HookReader:
        """The index, trees and blobs, each read once per process (close() at the end)."""
        return HookReader(self.root)

    @functools.cached_property
    def head(self) -> str | None:
        """The commit being committed onto (None before the first commit)."""
        return staged.resolve("HEAD", self.root)

    @functools.cached_property
    def layout(self) -> Layout:
        """Loaded once per process, shared by every hook run in it."""
        return Layout.load(self.root, self.reader)

    @functools.cached_property
    def staged_paths(self) -> list[str]:
        """What the next commit (or the merge being committed) changes, deletions too."""
        base = self.head or staged.EMPTY_TREE
        raw = staged.git(["diff", "--cached", "--name-only", "-z", "--no-renames", base], self.root)
        return [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0") if p]

    def say(self, line: str) -> None:
        print(line, file=self.out)

    def push_branch(self) -> str | None:
        """The remote branch pre-commit is pushing to (pre-commit exports it)."""
        ref = os.environ.get("PRE_COMMIT_REMOTE_BRANCH", "")
        return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


@dataclass(frozen=True)
class Layout:
    """Configured stores plus the cluster folders present in the index."""

    stores: tuple[StoreConfig, ...]
    cluster_dirs: frozenset[str]

    @classmethod
    def load(cls, root: Path, reader: GitReader | None = None) -> Layout:
        from kops_gitsync.hooks.config_cache import load_stores

        if reader is None:
            with HookReader(root) as own:
                return cls.load(root, own)
        stores = load_stores(root, reader)
        prefixes = tuple(s.path.rstrip("/") + "/" for s in stores)
        if isinstance(reader, HookReader):  # found in the listing's text, not a parsed index
            ending = list(reader.index_ending("/config"))
        else:
            ending = [p for p in reader.index if p.endswith("/config")]
        configs = [p for p in ending if not p.startswith(prefixes)]
        # Outside the configured stores, a folder is a cluster only if its config says so:
        # an application's "app/config" must not turn "app/manifests/" into kops objects.
        blobs = reader.index_blobs(configs)
        dirs = {str(PurePosixPath(p).parent) for p, data in blobs.items() if _CLUSTER.search(data)}
        return cls(stores, frozenset(dirs))

    def locate(self, path: str) -> ObjectPath | None:
        """The store object ``path`` is, or None for a file outside every store."""
        for store in self.stores:
            prefix = store.path.rstrip("/") + "/"
            if path.startswith(prefix):
                key = path[len(prefix) :]
                head, sep, _ = key.partition("/")
                cluster_dir = prefix + head if sep else None
                return ObjectPath(path, key, store, cluster_dir)
        parts = PurePosixPath(path).parts
        for depth in range(len(parts) - 1, 0, -1):
            candidate = "/".join(parts[:depth])
            if candidate in self.cluster_dirs:
                key = "/".join(parts[depth - 1 :])
                return ObjectPath(path, key, None, candidate)
        return None

    def objects(self, paths: Iterable[str]) -> list[ObjectPath]:
        return [obj for obj in map(self.locate, paths) if obj is not None]

    def clusters_touched(self, paths: Iterable[str]) -> list[str]:
        """Cluster folders in which ``paths`` change the Cluster or an InstanceGroup."""
        return sorted(
            {o.cluster_dir for o in self.objects(paths) if o.is_cluster_spec and o.cluster_dir}
        )


def cluster_files(blobs: dict[str, bytes], cluster_dir: str) -> dict[str, bytes]:
    """Re-key blobs from repository paths to paths inside the cluster folder: the specs, and
    ``kops-version.txt``, which picks the kops minor whose schema judges them."""
    prefix = cluster_dir + "/"
    files = {}
    for path, data in blobs.items():
        rest = path[len(prefix) :]
        if is_spec_key(rest) or rest == KOPS_VERSION_FILE:
            files[rest] = data
    return files


def changed_paths(ctx: HookContext) -> list[str]:
    """The files given, plus what git says the commit, merge or push changes.

    pre-commit passes only files that still exist, so a deletion (an InstanceGroup that
    etcd still names, a production object) would slip through on the given list alone.
    A whole-repository run adds every file in the index; a pre-commit run with
    ``--from-ref``/``--to-ref`` (a push, or CI checking a pull request) what that range
    changes, which is all ``kops-checks`` (no file list) learns of it.
    """
    paths = set(ctx.files)
    if ctx.whole_repo:
        paths.update(ctx.reader.index)
    if ctx.stage != "push":
        paths.update(ctx.staged_paths)
    old = os.environ.get("PRE_COMMIT_FROM_REF", "")
    new = os.environ.get("PRE_COMMIT_TO_REF", "")
    if old and new and old != staged.ZERO_SHA and staged.resolve(old, ctx.root):
        paths.update(staged.changed_between(old, new, ctx.root))
    return sorted(paths)


def print_listing(ctx: HookContext, title: str, items: Sequence[str]) -> None:
    ctx.say(title)
    for item in items:
        ctx.say(f"  {item}")
