"""``.kops-gitsync.yaml``: which stores a review repo mirrors, and how.

The file is read by the same bounded loader as kops objects (``validate/loader.py``: a size
limit, a node budget that stops alias bombs, a depth limit, duplicate keys reported), because
the config is read by every command and every hook, and a file that hangs or crashes the
loader would stop them all (issue 14). The data is then checked against a JSON Schema
(``config/schema.py``) and by checks the schema cannot express (``config/checks.py``), and
*every* complaint is reported with the file, line and key, and the forms the key allows
(issue 9). With no file, the repository mirrors one store, ``default``, found the way kops
finds it. ``load_repo_config`` also refuses a config under which a store's default mirror
folder would move (``config/pinning.py``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kops_gitsync.config.schema import MAX_LIST_ITEMS, MAX_STORES, SCHEMA, label
from kops_gitsync.errors import FatalError

CONFIG_NAME = ".kops-gitsync.yaml"
DEFAULT_STORE = "default"
DEFAULT_MAX_DELETE = "20%"

__all__ = [
    "CONFIG_NAME", "DEFAULT_STORE", "SCHEMA", "RepoConfig", "StoreConfig",
    "load_repo_config", "parse_repo_config",
]


@dataclass(frozen=True)
class StoreConfig:
    """One mirrored store. ``state`` None means "resolve it the way kops does"."""

    name: str = DEFAULT_STORE
    state: str | None = None
    path: str = "state"
    production: bool = False
    approved_branches: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    secrets: str = "exclude"
    # ``secrets: encrypt``: the age public keys the copies are encrypted to (docs/backup.md)
    age_recipients: tuple[str, ...] = ()
    max_delete: int | str = DEFAULT_MAX_DELETE
    push_derived: bool = False
    auto_push: bool = False
    interval: float = 300.0
    # Objects larger than this are withheld, not read: kops' largest are ~0.5 MB manifests.
    max_object_size: int = 16 * 1024 * 1024
    # Replicas on Kubernetes (docs/kubernetes.md): the member this store is pinned to, kept
    # there while that member is live; None lets the assignment place it.
    replica: str | None = None

    def max_delete_count(self, store_size: int) -> int:
        """The most deletions one push may make in a store of ``store_size`` objects."""
        if isinstance(self.max_delete, int):
            return self.max_delete
        share = int(self.max_delete.rstrip("%"))
        return store_size * share // 100

    def approves(self, branch: str, default_branch: str) -> bool:
        patterns = self.approved_branches or (default_branch,)
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in patterns)


@dataclass(frozen=True)
class RepoConfig:
    stores: tuple[StoreConfig, ...]
    source: Path | None = None  # None: no config file, built-in default
    lines: Mapping[str, int] = field(default_factory=dict)  # store name -> line of its entry
    # Stores without an explicit ``path:`` (their folder depends on how many stores there are).
    defaulted_paths: frozenset[str] = frozenset()

    def store(self, name: str | None) -> StoreConfig:
        if name is None:
            if len(self.stores) == 1:
                return self.stores[0]
            names = ", ".join(s.name for s in self.stores)
            raise FatalError(
                f"{self.source} names several stores ({names}): choose one with --store"
            )
        for store in self.stores:
            if store.name == name:
                return store
        names = ", ".join(s.name for s in self.stores)
        raise FatalError(f"no store named {name!r} (configured: {names})")

    def select(self, name: str | None) -> list[StoreConfig]:
        """The stores a command acts on: one by name, or all of them."""
        return [self.store(name)] if name is not None else list(self.stores)


def load_repo_config(repo_root: Path) -> RepoConfig:
    """The repository's config, or the one-store default when it has none.

    Refused when a store without ``path:`` would be mirrored somewhere other than where
    its mirror already is (see ``config/pinning.py``).
    """
    from kops_gitsync.config.pinning import check_default_paths

    source = repo_root / CONFIG_NAME
    if not source.exists():
        return RepoConfig(stores=(StoreConfig(),))
    config = parse_repo_config(source.read_bytes(), source)
    check_default_paths(config, repo_root)
    return config


def parse_repo_config(raw: bytes, source: Path) -> RepoConfig:
    """Parse and check one config file; every problem is in the one FatalError raised."""
    from kops_gitsync.config.checks import default_path, store_problems
    from kops_gitsync.config.schema import schema_errors
    from kops_gitsync.validate.loader import MAX_OBJECT_BYTES, load_object

    doc, issues = load_object(CONFIG_NAME, raw)
    errors: list[tuple[int, str]] = []
    for issue in issues:
        if issue.rule == "yaml-not-object":  # an empty file: no stores configured
            continue
        if issue.rule == "file-too-large":
            text = f"{len(raw)} bytes is above the {MAX_OBJECT_BYTES}-byte limit for this file"
        elif issue.rule == "yaml-syntax":
            text = f"not valid YAML: {issue.message}"
        elif issue.rule == "yaml-multiple-documents":
            text = f"a second YAML document; {CONFIG_NAME} holds exactly one"
        elif issue.rule == "yaml-duplicate-key":
            text = f"{label(issue.path)}: {issue.message.split(';')[0]}; delete one of them"
        else:
            text = issue.message.replace("Write the object out", "Write the file out")
        errors.append((issue.line or 1, text))
    if doc is None:
        _raise_if(errors, source)
        return RepoConfig(stores=(StoreConfig(),), source=source)

    def line_of(path: tuple[Any, ...], at_key: bool = False) -> int:
        return (doc.key_position(path) if at_key else doc.position(path))[0]

    data = {} if doc.data is None else doc.data
    problems = list(_trim_oversized(data))
    problems.extend(schema_errors(data))
    entries = data.get("stores") if isinstance(data, dict) else None
    if isinstance(entries, list):
        problems.extend(store_problems(entries, line_of))
    reported: set[tuple[str, ...]] = set()
    for path, at_key, message in problems:
        marker = tuple(map(repr, path))
        if marker not in reported:
            reported.add(marker)
            errors.append((line_of(path, at_key), f"{label(path)}: {message}"))
    _raise_if(errors, source)
    raw_stores = entries or [{"name": DEFAULT_STORE}]
    stores = []
    for entry in raw_stores:
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()
        }
        if "interval" in values:
            values["interval"] = float(values["interval"])
        values.setdefault("path", default_path(entry["name"], len(raw_stores)))
        stores.append(StoreConfig(**values))
    lines = {entry["name"]: line_of(("stores", n)) for n, entry in enumerate(entries or [])}
    defaulted = frozenset(entry["name"] for entry in raw_stores if "path" not in entry)
    return RepoConfig(
        stores=tuple(stores), source=source, lines=lines, defaulted_paths=defaulted
    )


def _trim_oversized(data: Any) -> list[tuple[tuple[Any, ...], bool, str]]:
    """Report and cut lists past their limit, so checking them stays cheap (an alias bomb
    just under the loader's node budget is still 100,000 patterns to compile)."""
    problems: list[tuple[tuple[Any, ...], bool, str]] = []
    entries = data.get("stores") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return problems
    if len(entries) > MAX_STORES:
        problems.append((("stores",), True, f"{len(entries)} stores; at most {MAX_STORES}"))
        del entries[MAX_STORES:]
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            if isinstance(value, list) and len(value) > MAX_LIST_ITEMS:
                problems.append(
                    (("stores", n, key), True, f"{len(value)} items; at most {MAX_LIST_ITEMS}")
                )
                del value[MAX_LIST_ITEMS:]
    return problems


MAX_REPORTED = 200  # a generated file can hold 100,000 mistakes; a terminal cannot show them


def _raise_if(errors: list[tuple[int, str]], source: Path) -> None:
    """One line per problem, in file order, each ``file:line: key: message``."""
    if not errors:
        return
    lines = [f"{source}:{line}: {text}" for line, text in sorted(errors, key=lambda e: e[0])]
    count = len(lines)
    if count > MAX_REPORTED:
        lines[MAX_REPORTED:] = [f"... and {count - MAX_REPORTED} more"]
    if count > 1:
        lines.insert(0, f"{source}: {count} problems:")
    raise FatalError("\n".join(lines))
