"""``.kops-gitsync.yaml``: which stores a review repo mirrors, and how.

The file is checked against a JSON Schema (``jsonschema``) and every complaint is mapped
back to the line of the offending key (ruamel.yaml keeps positions), because a config
error that does not say where it is costs an operator more than the feature saves.
With no file, the repository mirrors one store, ``default``, found the way kops finds it.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kops_gitsync.errors import FatalError

CONFIG_NAME = ".kops-gitsync.yaml"
DEFAULT_STORE = "default"
DEFAULT_MAX_DELETE = "20%"

_STORE_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
    "state": {"type": "string", "minLength": 1},
    "path": {"type": "string", "minLength": 1},
    "production": {"type": "boolean"},
    "approved_branches": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "include": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "secrets": {"enum": ["exclude", "include"]},
    "max_delete": {
        "oneOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": r"^(100|[1-9]?[0-9])%$"},
        ]
    },
    "push_derived": {"type": "boolean"},
    "auto_push": {"type": "boolean"},
    "interval": {"type": "number", "exclusiveMinimum": 0},
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "stores": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": _STORE_PROPERTIES,
            },
        },
    },
}


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
    max_delete: int | str = DEFAULT_MAX_DELETE
    push_derived: bool = False
    auto_push: bool = False
    interval: float = 300.0

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
    lines: Mapping[str, int] = field(default_factory=dict)

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


def _position(data: Any, path: Sequence[Any]) -> tuple[int, str]:
    """(1-based line, dotted key) of the deepest node on ``path`` that has a position."""
    line = 1
    node = data
    labels: list[str] = []
    for step in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(step, int):
                if lc is not None:
                    line = lc.item(step)[0] + 1
                labels.append(f"[{step}]")
            else:
                if lc is not None:
                    line = lc.key(step)[0] + 1
                labels.append(f".{step}" if labels else str(step))
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return line, "".join(labels) or "(top level)"


def _unknown_key_message(error: Any, data: Any) -> tuple[int, str, str] | None:
    if error.validator != "additionalProperties":
        return None
    allowed = sorted(error.schema.get("properties", {}))
    for key in error.instance:
        if key in allowed:
            continue
        line, label = _position(data, [*error.absolute_path, key])
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
        return line, label, f"unknown key{hint}"
    return None


def _check_paths(stores: list[StoreConfig], source: Path) -> None:
    seen: dict[str, str] = {}
    for store in stores:
        path = PurePosixPath(store.path)
        bad = (
            path.is_absolute()
            or any(part in ("..", ".", ".git") for part in path.parts)
            or str(path) in ("", ".")
            or path.parts[0] == ".kops-gitsync"
        )
        if bad:
            raise FatalError(
                f"{source}: store {store.name!r}: path {store.path!r} must be a relative folder "
                "inside the repository, not its root, .git or .kops-gitsync (kops would read "
                ".git/config as a cluster)"
            )
        for other_path, other in seen.items():
            a, b = str(path), other_path
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                raise FatalError(
                    f"{source}: stores {other!r} and {store.name!r} mirror overlapping "
                    f"folders {b!r} and {a!r}"
                )
        seen[str(path)] = store.name
    names = [s.name for s in stores]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FatalError(f"{source}: store names must be unique: {', '.join(duplicates)}")


def load_repo_config(repo_root: Path) -> RepoConfig:
    """The repository's config, or the one-store default when it has none."""
    source = repo_root / CONFIG_NAME
    if not source.exists():
        return RepoConfig(stores=(StoreConfig(),))
    return parse_repo_config(source.read_bytes(), source)


def parse_repo_config(raw: bytes, source: Path) -> RepoConfig:
    import jsonschema
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = raw.decode("utf-8")
        data = YAML(typ="rt").load(text)
    except UnicodeDecodeError as exc:
        raise FatalError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise FatalError(f"{source}{where}: not valid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise FatalError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        unknown = _unknown_key_message(error, data)
        if unknown is not None:
            line, label, message = unknown
        else:
            line, label = _position(data, list(error.absolute_path))
            message = re.sub(r"^(\{.*\}|\[.*\]) ", "", error.message)
        raise FatalError(f"{source}:{line}: {label}: {message}")
    raw_stores = data.get("stores") or [{"name": DEFAULT_STORE}]
    stores = []
    for entry in raw_stores:
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()
        }
        values.setdefault("path", "state" if len(raw_stores) == 1 else f"state/{entry['name']}")
        stores.append(StoreConfig(**values))
    _check_paths(stores, source)
    return RepoConfig(stores=tuple(stores), source=source)
