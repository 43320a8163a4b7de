"""``--format json`` for the sync verbs: one JSON document on stdout, whatever happens.

Each store adds its entry as it finishes (or fails: the entry then carries ``error``), and
the document is printed once at the end, also when a store failed and the command exits 1,
so a script always gets a parseable answer. The shape: ``{"schema_version": 1, "command":
..., "stores": [...]}``; docs/diff.md describes the entries.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kops_gitsync.errors import FatalError, StoreError

SCHEMA_VERSION = 1


def add_format_argument(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices or ("text", "json"), default="text",
                        help="output format (json: one document on standard output)")


class JsonReport:
    def __init__(self, command: str) -> None:
        self.command = command
        self.stores: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    def guarded(self, name_of: Callable[[Any], str],
                action: Callable[[Any], None]) -> Callable[[Any], None]:
        """``action`` that records a failing store as an entry before the error goes on."""

        def run(ctx: Any) -> None:
            try:
                action(ctx)
            except (FatalError, StoreError, OSError) as exc:
                self.stores.append({"store": name_of(ctx), "error": str(exc)})
                raise

        return run

    def document(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "command": self.command,
                "stores": self.stores, **self.extra}

    @contextmanager
    def printed(self) -> Iterator[JsonReport]:
        try:
            yield self
        finally:
            sys.stdout.write(json.dumps(self.document(), indent=2, ensure_ascii=True,
                                        default=str) + "\n")
