"""JSON Schema checks against the schemas derived from kops' CRDs.

kops decodes objects non-strictly: an unknown field, such as a misspelt
``kubernetesVersoin``, is dropped without a word and the setting never applies. The
shipped schemas (``schemas/*.json``, made by ``tools/derive_schemas.py``) close every
object, so each unknown field is reported at its own key, with a "did you mean" when a
declared field is a near miss. Type errors are reported at the value.

``jsonschema`` and the schema files are loaded on first use and once per process: the
hook validates several clusters per commit and must not pay the import or the JSON parse
per cluster.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.catalog import SCHEMA_INVALID, SCHEMA_UNKNOWN_FIELD

SCHEMA_FILES = {"Cluster": "cluster.json", "InstanceGroup": "instancegroup.json"}
_MAX_ERRORS_PER_FILE = 50


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The shipped JSON Schema for ``kind`` (parsed once per process)."""
    text = resources.files("kops_gitsync.validate").joinpath("schemas", SCHEMA_FILES[kind])
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(kind))


def dotted(path: YamlPath) -> str:
    """``spec.subnets[0].cidr`` for ``("spec", "subnets", 0, "cidr")``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def suggest(name: str, known: list[str]) -> str | None:
    """The declared field ``name`` most likely meant, if one is close enough."""
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return close[0] if close else None


def check_schema(kind: str, key: str, data: Any) -> list[Issue]:
    issues: list[Issue] = []
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        path: YamlPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = sorted(error.schema.get("properties", {}))
            for field in error.instance:
                if field not in known:
                    issues.append(_unknown_field(key, (*path, field), known))
        else:
            issues.append(
                Issue(SCHEMA_INVALID, key, path, f"{dotted(path)}: {_one_line(error.message)}")
            )
        if len(issues) >= _MAX_ERRORS_PER_FILE:
            break
    return issues


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
