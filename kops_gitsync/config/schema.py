"""The shape ``.kops-gitsync.yaml`` must have, and how to say so to an operator.

The JSON Schema (checked with ``jsonschema``, already a core dependency for validation) says
what is allowed; ``FORMS`` says it in words, with an example, because "'lots' is not valid
under any of the given schemas" tells an operator nothing about what *would* be valid
(issue 9). Every complaint is collected, so one run names every mistake in the file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

MAX_STORES = 100
MAX_LIST_ITEMS = 1000  # patterns or branches per list: a config, not a data set
MAX_PATTERN_CHARS = 1024  # a pattern is matched against every store key on every pull
MAX_INTERVAL_SECONDS = 31 * 24 * 3600

_STRING_LIST: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_LIST_ITEMS,
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_PATTERN_CHARS},
}

STORE_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
    "state": {"type": "string", "minLength": 1, "maxLength": 4096},
    "path": {"type": "string", "minLength": 1, "maxLength": 1024},
    "production": {"type": "boolean"},
    "approved_branches": _STRING_LIST,
    "include": _STRING_LIST,
    "exclude": _STRING_LIST,
    "secrets": {"enum": ["exclude", "include", "encrypt"]},
    "age_recipients": _STRING_LIST,
    "max_delete": {
        "oneOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": r"^(100|[1-9]?[0-9])%$"},
        ]
    },
    "push_derived": {"type": "boolean"},
    "auto_push": {"type": "boolean"},
    "max_object_size": {"type": "integer", "minimum": 1, "maximum": 2**40},
    # A Kubernetes object name (RFC 1123 subdomain): the member name of a replica.
    "replica": {"type": "string", "maxLength": 253,
                "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
    "interval": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": MAX_INTERVAL_SECONDS,
    },
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "stores": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_STORES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": STORE_PROPERTIES,
            },
        },
    },
}

_BOOLEAN = "a boolean, true or false"
# What each key accepts, in the words of the error message.
FORMS: dict[str, str] = {
    "(top level)": "a mapping with the key `stores`",
    "stores": f"a list of 1 to {MAX_STORES} stores, each a mapping with at least `name`",
    "store": "a mapping with at least `name`, like {name: prod, state: s3://bucket}",
    "name": "a name of letters, digits, '.', '_' or '-' (up to 63, starting with a letter or "
    "digit), like prod; quote one YAML reads as another type ('yes', '1.0')",
    "state": "a state store URL like s3://bucket/prefix",
    "path": "a folder inside the repository, like state/prod",
    "production": _BOOLEAN,
    "push_derived": _BOOLEAN,
    "auto_push": _BOOLEAN,
    "approved_branches": f"a list of up to {MAX_LIST_ITEMS} branch names or fnmatch patterns, "
    'like [main, "release/*"]',
    "include": f"a list of up to {MAX_LIST_ITEMS} gitignore-style patterns on store keys, "
    'like ["*/instancegroup/*"]',
    "exclude": f"a list of up to {MAX_LIST_ITEMS} gitignore-style patterns on store keys, "
    'like ["*/addons/legacy-*"]',
    "secrets": "exclude or include, or encrypt (age copies beside the mirror, docs/backup.md)",
    "age_recipients": "a list of age public keys, like [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2"
    "elw8zmrj2kg5sfn9aqmcac8p]",
    "max_delete": "a count like 10 or a share like 20%",
    "max_object_size": "a number of bytes like 16777216 (16 MiB, the default)",
    "replica": "the member name of a daemon replica (its pod name: lowercase letters, digits, "
    "'-' and '.'), like kops-gitsync-0; the store stays with it while it is live",
    "interval": f"a number of seconds above 0 and at most {MAX_INTERVAL_SECONDS} (31 days), "
    "like 300",
}


def label(path: tuple[Any, ...]) -> str:
    """``stores[0].max_delete``: how the messages name a place in the file."""
    parts: list[str] = []
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else str(step))
    return "".join(parts) or "(top level)"


def show(value: Any) -> str:
    """A value as the message quotes it: short, one line."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _forms_for(path: tuple[Any, ...]) -> str:
    """The allowed forms of the value at ``path`` (an item of a list: the list's forms)."""
    if not path:
        return FORMS["(top level)"]
    if path == ("stores",):
        return FORMS["stores"]
    if len(path) == 2 and path[0] == "stores":
        return FORMS["store"]
    key = path[2] if len(path) > 2 else path[-1]
    return FORMS.get(str(key), "")


def schema_errors(data: Any) -> Iterator[tuple[tuple[Any, ...], bool, str]]:
    """(path, at_key, message) for every schema violation, one per place in the file."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    seen: set[tuple[str, ...]] = set()
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key in allowed:
                    continue
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
                yield (*path, key), True, f"unknown key ({hint})"
            continue
        marker = tuple(map(repr, path))
        if marker in seen:
            continue
        seen.add(marker)
        if error.validator == "required":
            yield path, False, f"a store needs a `name`; expected {FORMS['store']}"
        elif error.validator in ("maxItems", "minItems"):
            count = len(error.instance)
            yield path, True, f"{count} items; expected {_forms_for(path)}"
        else:
            where = " in this list" if len(path) > 3 else ""
            yield path, False, f"{show(error.instance)} is not allowed{where}; expected " + (
                _forms_for(path)
            )
