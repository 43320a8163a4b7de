"""JSON Schema checks against the schemas derived from kops' CRDs.

kops decodes objects non-strictly: an unknown field, such as a misspelt
``kubernetesVersoin``, is dropped without a word and the setting never applies. The
shipped schemas (``schemas/*.json``, made by ``tools/derive_schemas.py``) close every
object, so each unknown field is reported at its own key, with a "did you mean" when a
declared field is a near miss. Type errors are reported at the value.

The derived schemas use only seven keywords (``type``, ``properties``,
``additionalProperties``, ``items``, ``anyOf``, ``pattern``, ``required``), so they are
evaluated here directly instead of through ``jsonschema``: importing jsonschema costs
about 100 ms, a third of a commit hook's run, for a subset that fits in a page. The
loader refuses a schema with any other keyword, and a test checks this evaluator against
``jsonschema`` on the fixtures and on broken variants, so the two cannot drift apart.
The schema files are parsed on first use and once per process.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath, dotted
from kops_gitsync.validate.rules.catalog import SCHEMA_INVALID, SCHEMA_UNKNOWN_FIELD

_SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
SCHEMA_FILES = {"Cluster": "cluster.json", "InstanceGroup": "instancegroup.json"}
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


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The shipped JSON Schema for ``kind`` (parsed and checked once per process)."""
    # A plain file next to this module (package data): importlib.resources would add
    # ~15 ms of imports to every hook run for zip-import support nobody uses here.
    with open(os.path.join(_SCHEMA_DIR, SCHEMA_FILES[kind]), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    ensure_supported(schema, SCHEMA_FILES[kind])
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


def check_schema(kind: str, key: str, data: Any) -> list[Issue]:
    issues: list[Issue] = []
    for keyword, path, message, schema in schema_errors(load_schema(kind), data):
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
        at_key=True,
    )


def _one_line(message: str, limit: int = 200) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
