"""JSON Schema checks against the schemas derived from kops' CRDs, one per kops minor.

kops decodes objects non-strictly: an unknown field, such as a misspelt
``kubernetesVersoin``, is dropped without a word and the setting never applies. The
shipped schemas (``schemas/kops-<minor>.json.gz``, made by ``tools/derive_schemas.py``
from kops' CRDs at each release tag) close every object, so each unknown field is
reported at its own key, with a "did you mean" when a declared field is a near miss. It
is a warning, not an error: kops stores the object anyway (``--strict`` makes it fail).
A value of the wrong type is an error: kops cannot decode it, so ``kops replace`` refuses.

Fields come and go between kops minors, so the schema used is the one of the minor the
cluster's ``kops-version.txt`` names (``choose_schema``), the newest shipped otherwise.

The derived schemas use only six keywords (``type``, ``properties``,
``additionalProperties``, ``items``, ``anyOf``, ``pattern``), so they are evaluated here
directly instead of through ``jsonschema``: importing jsonschema costs about 100 ms, a
third of a commit hook's run, for a subset that fits in a page. The loader refuses a
schema with any other keyword, and a test checks this evaluator against ``jsonschema`` on
the fixtures and on broken variants, so the two cannot drift apart. A schema file is
read (gzip, ~9 KB) on first use and once per process.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath, dotted
from kops_gitsync.validate.rules.catalog import SCHEMA_INVALID, SCHEMA_UNKNOWN_FIELD

_SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
_PREFIX, _SUFFIX = "kops-", ".json.gz"
_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]*)?\s*$")
SUPPORTED_KEYWORDS = frozenset(
    {"type", "properties", "additionalProperties", "items", "anyOf", "pattern", "required",
     "default", "$comment", "$schema"}
)
_MAX_ERRORS_PER_FILE = 50
_TYPE_CHECKS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class SchemaChoice:
    """Which kops minor's schema a cluster is checked against, and why."""

    minor: str  # "1.36"
    kops: str  # the kops release it was derived from, "v1.36.2"
    note: str  # "" when kops-version.txt named this minor; else why another was used

    def describe(self) -> str:
        text = f"schema of kops {self.minor} ({self.kops})"
        return f"{text}: {self.note}" if self.note else text


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


@cache
def shipped_minors() -> tuple[str, ...]:
    """The kops minors a schema is shipped for, oldest first."""
    names = [n[len(_PREFIX) : -len(_SUFFIX)] for n in os.listdir(_SCHEMA_DIR)
             if n.startswith(_PREFIX) and n.endswith(_SUFFIX)]
    return tuple(sorted(names, key=_minor_key))


def choose_schema(kops_version: str | None) -> SchemaChoice:
    """The schema for a cluster whose ``kops-version.txt`` says ``kops_version``.

    The minor it names, when shipped; the newest shipped otherwise, with a note saying so
    (an older kops may not know a field the newest schema accepts, and a newer one may
    have fields this package does not know yet).
    """
    minors = shipped_minors()
    newest = minors[-1]
    match = _VERSION.match(kops_version or "")
    if kops_version is None or not kops_version.strip():
        minor, note = newest, "no kops-version.txt, so the newest shipped"
    elif match is None:
        minor, note = newest, (f"kops-version.txt {kops_version.strip()[:40]!r} is not a"
                               " version, so the newest shipped")
    elif f"{match.group(1)}.{match.group(2)}" in minors:
        minor, note = f"{match.group(1)}.{match.group(2)}", ""
    else:
        minor, note = newest, (f"kops-version.txt says {kops_version.strip()}, which has no"
                               f" shipped schema ({minors[0]}..{newest}), so the newest")
    return SchemaChoice(minor, str(load_bundle(minor).get("kops", minor)), note)


@cache
def load_bundle(minor: str) -> dict[str, Any]:
    """The shipped schemas of one kops minor (parsed and checked once per process)."""
    # A plain file next to this module (package data): importlib.resources would add
    # ~15 ms of imports to every hook run for zip-import support nobody uses here.
    name = f"{_PREFIX}{minor}{_SUFFIX}"
    with gzip.open(os.path.join(_SCHEMA_DIR, name), "rt", encoding="utf-8") as handle:
        bundle: dict[str, Any] = json.load(handle)
    for kind in ("Cluster", "InstanceGroup"):
        ensure_supported(bundle[kind], f"{name} {kind}")
    return bundle


def load_schema(kind: str, minor: str | None = None) -> dict[str, Any]:
    """The JSON Schema for ``kind`` ("Cluster", "InstanceGroup") of a kops minor."""
    schema: dict[str, Any] = load_bundle(minor or shipped_minors()[-1])[kind]
    return schema


def ensure_supported(schema: dict[str, Any], name: str) -> None:
    """Refuse a schema this evaluator would silently misread (a keyword it ignores)."""
    unsupported = sorted(set(_keywords(schema)) - SUPPORTED_KEYWORDS)
    if unsupported:
        raise ValueError(f"schema {name} uses unsupported keywords {unsupported}")


def _keywords(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    for keyword, value in schema.items():
        yield keyword
        if keyword == "properties":
            for sub in value.values():
                yield from _keywords(sub)
        elif keyword in ("items", "additionalProperties"):
            yield from _keywords(value)
        elif keyword == "anyOf":
            for sub in value:
                yield from _keywords(sub)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def schema_errors(schema: dict[str, Any], value: Any, path: YamlPath = ()) -> Iterator[
        tuple[str, YamlPath, str, dict[str, Any]]]:
    """(keyword, path, message, schema) for each violation, like jsonschema's iter_errors."""
    wanted = schema.get("type")
    if wanted is not None:
        names = wanted if isinstance(wanted, list) else [wanted]
        if not any(_TYPE_CHECKS[name](value) for name in names):
            yield "type", path, f"{value!r} is not of type {' or '.join(map(repr, names))}", schema
            return
    if "anyOf" in schema and not any(
        next(schema_errors(sub, value, path), None) is None for sub in schema["anyOf"]
    ):
        yield "anyOf", path, f"{value!r} is not valid under any of the given schemas", schema
    if "pattern" in schema and isinstance(value, str) and not _regex(schema["pattern"]).search(
            value):
        yield "pattern", path, f"{value!r} does not match {schema['pattern']!r}", schema
    if isinstance(value, dict):
        yield from _object_errors(schema, value, path)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from schema_errors(schema["items"], item, (*path, index))


def _object_errors(schema: dict[str, Any], value: dict[str, Any], path: YamlPath) -> Iterator[
        tuple[str, YamlPath, str, dict[str, Any]]]:
    for field in schema.get("required", ()):
        if field not in value:
            yield "required", path, f"{field!r} is a required property", schema
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    unknown = []
    for key, item in value.items():
        if key in properties:
            yield from schema_errors(properties[key], item, (*path, key))
        elif extra is False:
            unknown.append(key)
        elif isinstance(extra, dict):
            yield from schema_errors(extra, item, (*path, key))
    if unknown:
        yield "additionalProperties", path, f"unknown fields {unknown}", schema


def suggest(name: str, known: list[str]) -> str | None:
    """The declared field ``name`` most likely meant, if one is close enough."""
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return close[0] if close else None


def check_schema(kind: str, key: str, data: Any, minor: str | None = None) -> list[Issue]:
    issues: list[Issue] = []
    for keyword, path, message, schema in schema_errors(load_schema(kind, minor), data):
        if keyword == "additionalProperties":
            known = sorted(schema.get("properties", {}))
            container = _at(data, path)
            for field in container:
                if field not in known:
                    issues.append(_unknown_field(key, (*path, field), known))
        else:
            issues.append(Issue(SCHEMA_INVALID, key, path, f"{dotted(path)}: {_one_line(message)}"))
        if len(issues) >= _MAX_ERRORS_PER_FILE:
            break
    return issues


def _at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _unknown_field(key: str, path: YamlPath, known: list[str]) -> Issue:
    field = str(path[-1])
    guess = suggest(field, known)
    if guess is not None:
        hint = f"did you mean {guess!r}?"
    else:
        hint = "delete it or check the spelling against the kops API"
    return Issue(
        SCHEMA_UNKNOWN_FIELD,
        key,
        path,
        f"unknown field {dotted(path)!r} (kops drops it silently); {hint}",
        severity="warning",  # kops stores the object without it: --strict makes it fail
        at_key=True,
    )


def _one_line(message: str, limit: int = 200) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
