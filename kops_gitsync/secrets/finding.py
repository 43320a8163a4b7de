"""What a rule reports, and the small helpers every rule module shares."""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One place that looks like secret material.

    ``rule`` is a stable identifier (``jwt``, ``aws-secret-key``), for tests, scripts and
    allow-lists; ``name`` says in words what matched (``JWT token``), for people.
    """

    line: int  # 1-based, in the bytes given (CRLF counts as one line end)
    rule: str
    name: str

    @property
    def message(self) -> str:
        return self.name

    def __str__(self) -> str:
        return f"line {self.line}: {self.name}"


# Values people leave where a secret would go. Compared lower-cased, quotes stripped.
PLACEHOLDERS = frozenset(
    {
        b"",
        b"~",
        b"null",
        b"none",
        b"nil",
        b"test",
        b"testing",
        b"fake",
        b"redacted",
        b"<redacted>",
        b"changeme",
        b"change-me",
        b"xxx",
        b"secret",
        b"password",
        b"passwd",
        b"token",
        b"example",
        b"dummy",
        b"placeholder",
        b"true",
        b"false",
        b"yes",
        b"no",
        b"on",
        b"off",
        b"{}",
        b"[]",
        b"''",
        b'""',
    }
)
_TEMPLATE_STARTS = (b"{{", b"${", b"$(", b"$", b"<", b"%(", b"%{", b"#{", b"((")


def placeholder(value: bytes) -> bool:
    """True for an empty, templated, masked or referenced value: not a secret itself."""
    value = value.strip().strip(b"\"'").strip()
    if value.lower() in PLACEHOLDERS or value.startswith(_TEMPLATE_STARTS) or b"{{" in value:
        return True
    # "xxxxxxxx", "********", "...": a mask, not a value
    return len(set(value.lower()) - {ord("x"), ord("*"), ord("."), ord("-"), ord("_")}) == 0


_NEWLINE = re.compile(rb"\n")


class Lines:
    """Offset -> 1-based line number for one input.

    Newline positions are indexed once, on the first finding, not counted again per
    finding: a 1 MB file with thousands of findings must not cost their product.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._ends: array[int] | None = None

    def __call__(self, offset: int) -> int:
        if self._ends is None:
            self._ends = array("q", (m.start() for m in _NEWLINE.finditer(self._data)))
        return bisect.bisect_left(self._ends, offset) + 1
