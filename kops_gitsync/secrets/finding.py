"""What a rule reports, and the small helpers every rule module shares."""

from __future__ import annotations

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
        b"", b"~", b"null", b"none", b"nil", b"redacted", b"<redacted>", b"changeme",
        b"change-me", b"xxx", b"secret", b"password", b"passwd", b"token", b"example",
        b"dummy", b"placeholder", b"true", b"false", b"yes", b"no", b"on", b"off", b"{}",
        b"[]", b"''", b'""',
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


def line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def line_bounds(data: bytes, offset: int) -> tuple[int, int]:
    """Start and end (exclusive, before the newline) of the line holding ``offset``."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return start, len(data) if end < 0 else end
