"""YAML bytes to a plain, JSON-shaped value, with limits: the decoding review/ and backup/ share.

Both compare or walk decoded kops objects (the semantic diff; configBase and the fields that
name a store), so both need the same three guards, which were written once hardened (review)
and once not (backup): a safe loader that keeps timestamps and binary scalars as the strings
kops sees; string keys, as sigs.k8s.io/yaml makes them; and a node budget after aliases are
expanded, so a "billion laughs" document is refused instead of walked for minutes. PyYAML
(libyaml when present) is imported on first use: the hooks and CLI start-up never pay for it.

validate/loader.py is not this: it keeps node positions for line:column findings.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Nodes in one decoded document after aliases are expanded: a real Cluster spec has a few
# hundred; a "billion laughs" document must not make a walk go on forever.
MAX_NODES = 200_000
TOO_LARGE = "YAML too large or nested too deeply"

_LOADER: Any = None


class YamlProblem(ValueError):
    """Why the bytes are not a usable document: one short phrase, no traceback."""


def _loader() -> Any:
    """A safe loader that keeps timestamps and binary scalars as the strings kops sees."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader: Any = type("PlainLoader", (base,), {})
        for tag in ("timestamp", "binary"):
            loader.add_constructor(
                f"tag:yaml.org,2002:{tag}", lambda ld, node: ld.construct_scalar(node)
            )
        _LOADER = loader
    return _LOADER


def _plain(value: Any, budget: list[int]) -> Any:
    """A JSON-shaped copy: string keys (as sigs.k8s.io/yaml makes them), no shared nodes."""
    budget[0] -= 1
    if budget[0] < 0:
        raise OverflowError
    if isinstance(value, dict):
        return {_key_text(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON (and so kops) has no NaN or infinity
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    return str(key)


def load_plain(data: bytes) -> Any:
    """The first document of ``data``, plain; YamlProblem saying why not."""
    import yaml

    try:
        return _plain(yaml.load(data.decode("utf-8"), Loader=_loader()), [MAX_NODES])
    except UnicodeDecodeError:
        raise YamlProblem("not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlProblem(f"not valid YAML (line {mark.line + 1})" if mark
                          else "not valid YAML") from None
    except (RecursionError, OverflowError):
        raise YamlProblem(TOO_LARGE) from None
