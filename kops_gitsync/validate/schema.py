"""JSON Schema checks (being filled in)."""

from __future__ import annotations

from typing import Any

from kops_gitsync.validate.issues import Issue


def check_schema(kind: str, key: str, data: Any) -> list[Issue]:
    return []
