"""Passwords given by position rather than by an ``=``/``:`` assignment.

Two forms carry a password after a keyword and blanks, or glued to a short flag, where the
assignment rules cannot see it:

* ``.netrc`` entries (``machine github.com login deploy password s3cr3t``, on one line or
  one token per line), which user data writes for git and curl;
* the MySQL/MariaDB clients' ``-pPASSWORD`` (no blank: ``-p`` alone prompts).
  ``--password=...`` is an ordinary ``--*password`` flag (kops_gitsync.secrets.assignments).

Both are anchored on a literal (``password``, ``mysql``/``mariadb``) found in the
lower-cased bytes and read bounded spans of one line, so cost stays linear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kops_gitsync.secrets.finding import Finding, Lines, placeholder
from kops_gitsync.secrets.values import chosen

# What may precede ``password`` on a .netrc line: other netrc tokens and their values.
_NETRC_PREFIX = re.compile(rb"[ \t]*(?:(?:machine|login|account)[ \t]+\S+[ \t]+|default[ \t]+)*")
_NETRC_LINE = re.compile(rb"[ \t]*(?:machine|login|default|account)\b")
_BLANKS_VALUE = re.compile(rb"[ \t]+([^\s\x00-\x1f\x7f]{1,512})")
# A MySQL client command word: mysql, mysqldump, mysqladmin, ..., mariadb(-dump), at a word
# start (``/usr/bin/mysql`` too), followed by a blank.
_MYSQL = re.compile(rb"(?<![\w.-])(?:mysql|mariadb)[a-z-]{0,12}[ \t]")
_SHORT_P = re.compile(
    rb"(?<![\w-])-p(?:\"([^\"\n]{1,512})\"|'([^'\n]{1,512})'|([^\s;|&)`'\"\x00-\x1f]{1,512}))"
)


def _literal(secret: bytes) -> bool:
    """A password typed in, not ``$VAR``, ``{password}`` (documentation) or a word."""
    return not placeholder(secret) and not secret.startswith(b"{") and chosen(secret)


def _netrc(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    at = lowered.find(b"password")
    while at >= 0:
        line_start = lowered.rfind(b"\n", 0, at) + 1
        value = _BLANKS_VALUE.match(data, at + len(b"password"))
        before = lowered[line_start:at]
        if value and len(before) < 512 and _NETRC_PREFIX.fullmatch(before):
            tokens = before.strip(b" \t")
            netrc = tokens not in (b"", b"default") or (
                not tokens and _netrc_above(lowered, line_start)
            )
            secret = value.group(1).strip(b"\"'")
            if netrc and _literal(secret):
                yield Finding(line_of(at), "password", "password in a .netrc entry")
        at = lowered.find(b"password", at + len(b"password"))


def _netrc_above(lowered: bytes, line_start: int) -> bool:
    """``password X`` alone on its line counts when the line above is a netrc token."""
    if not line_start:
        return False
    above = lowered.rfind(b"\n", 0, line_start - 1) + 1
    return _NETRC_LINE.match(lowered, above, line_start - 1) is not None


def _mysql(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    for command in _MYSQL.finditer(lowered):
        end = lowered.find(b"\n", command.end())
        stop = len(data) if end < 0 else end
        for flag in _SHORT_P.finditer(data, command.end(), min(stop, command.end() + 4096)):
            secret = next(g for g in flag.groups() if g is not None)
            if _literal(secret):
                yield Finding(line_of(flag.start()), "password", "password in mysql -p")


def find(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    """Every positional password in ``data``; ``lowered`` is ``data.lower()``."""
    if b"password" in lowered and (b"machine" in lowered or b"login" in lowered):
        yield from _netrc(data, lowered, line_of)
    if b"mysql" in lowered or b"mariadb" in lowered:
        yield from _mysql(data, lowered, line_of)
