"""The stores of ``.kops-gitsync.yaml`` for hooks, without re-validating an unchanged file.

Validating the config needs ruamel.yaml and jsonschema, whose import alone costs a hook
more than everything else it does (about 0.1 s). The file changes rarely and the hooks run
on every commit, so the validated result is kept in ``<git-dir>/kops-gitsync/`` under the
SHA-256 of the file's bytes and of the StoreConfig field list: an edited file, or a
kops-gitsync whose StoreConfig changed, is simply parsed and validated again.

Like every sync command, the hooks refuse a config under which a store without ``path:``
would be looked for in another folder than its mirror is in (``config/pinning.py``): a
production store's files would otherwise stop being protected the moment a second store is
added. That check reads HEAD, so its result is cached with the id of HEAD's sync-state
folder, which every pull changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from kops_gitsync.config.pinning import default_path_problems, describe_moves, state_tree
from kops_gitsync.config.repo_config import CONFIG_NAME, StoreConfig, parse_repo_config
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import staged
from kops_gitsync.gitrepo.reader import GitReader

CACHE_NAME = "hook-config-cache.json"


def _digest(raw: bytes) -> str:
    fields = ",".join(f.name for f in dataclasses.fields(StoreConfig))
    return hashlib.sha256(fields.encode() + b"\0" + raw).hexdigest()


def _from_json(entry: dict[str, Any]) -> StoreConfig:
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
    return StoreConfig(**values)


def load_stores(root: Path, reader: GitReader | None = None) -> tuple[StoreConfig, ...]:
    """The stores as the commit being made will record them: the config is read from the
    index (an unstaged edit must not switch production protection or the secret scan off),
    falling back to HEAD, and to the one-store default when neither has the file."""
    if reader is None:
        with GitReader(root) as own:
            return load_stores(root, own)
    source = root / CONFIG_NAME
    raw = reader.index_blobs([CONFIG_NAME]).get(CONFIG_NAME)
    if raw is None:
        raw = reader.show("HEAD", CONFIG_NAME)
    if raw is None:
        return (StoreConfig(),)
    digest = _digest(raw)
    cache = staged.git_dir(root) / "kops-gitsync" / CACHE_NAME
    cached: dict[str, Any] = {}
    try:
        loaded = json.loads(cache.read_text())
        if isinstance(loaded, dict) and loaded.get("digest") == digest:
            cached = loaded
            stores = tuple(_from_json(entry) for entry in cached["stores"])
            defaulted = [str(name) for name in cached["defaulted"]]
            lines = {str(k): int(v) for k, v in cached["lines"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        cached = {}  # no cache yet, one from another file or version, or damaged: parse
    if not cached:
        config = parse_repo_config(raw, source)
        stores = config.stores
        defaulted = sorted(config.defaulted_paths)
        lines = dict(config.lines)
    tree = state_tree(root) if defaulted else None
    if defaulted and (tree is None or cached.get("paths_checked_at") != tree):
        moved = default_path_problems(defaulted, len(stores), root)
        if moved:
            raise FatalError(describe_moves(source, lines, stores, moved))
    elif cached:
        return stores
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        entries = [dataclasses.asdict(store) for store in stores]
        tmp.write_text(
            json.dumps(
                {
                    "digest": digest,
                    "stores": entries,
                    "defaulted": defaulted,
                    "lines": lines,
                    "paths_checked_at": tree,
                }
            )
        )
        tmp.replace(cache)
    except OSError:
        pass  # a read-only git dir only costs speed
    return stores
