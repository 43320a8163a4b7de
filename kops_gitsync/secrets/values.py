"""Is this value a credential? The shape tests the name-based rules share.

A name says where a secret would go; the value decides whether one is there. Templates
and references (``${TOKEN}``, ``$(cat f)``) are handled by ``finding.placeholder``; this
module tells code and configuration paths (``settings.secret_key``, ``.Values.apiToken``,
``spec.foo``) from opaque tokens that merely contain a dot (``hvs.CAES...`` Vault tokens,
``<id>.<secret>`` API tokens), and machine-made values from words.

The test is shape, not dictionary: a random token switches between upper case, lower case
and digits about every other character; identifiers switch once per word.
"""

from __future__ import annotations

import itertools
import re

_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset(b"0123456789")
# ``settings.secret_key``, ``.Values.apiToken`` (Helm/Go templates), ``spec.foo.bar``
_DOTTED_NAME = re.compile(rb"\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# Class switches per character above which a value reads as random rather than as words:
# random base62 ~0.6, hex ~0.47, ``Hunter2.Xy9`` 0.5; ``ed25519.Ed25519PrivateKey`` 0.33,
# ``.Values.s3Bucket`` 0.29, ``settings.secret_key`` 0.
_SWITCH_RATIO = 0.4
_WORDLIKE = re.compile(rb"[A-Za-z_-]+")
# ``dict[str, float]``, ``Callable[[int]``, ``os.environ["X"]``, ``getpass()``: code.
_CALL_OR_INDEX = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*[\[(]")
# Hex keys: one case, few letters, so their switch ratio (~0.47) varies too much to judge.
_HEX = re.compile(rb"[0-9a-f]{32,}|[0-9A-F]{32,}")


def _class(byte: int) -> int:
    return 1 if byte in _UPPER else 2 if byte in _LOWER else 3 if byte in _DIGITS else 0


def switches(value: bytes) -> int:
    """How often consecutive letters/digits change class (upper, lower, digit)."""
    classes = [c for c in map(_class, value) if c]
    return sum(a != b for a, b in itertools.pairwise(classes))


def opaque(value: bytes, min_len: int = 8) -> bool:
    """Random-looking: upper, lower and digits, switching class often (or, for long values
    of one case, digits and letters switching often, as in base32); or 32+ hex digits."""
    if _HEX.fullmatch(value) and not value.isdigit() and not value.isalpha():
        return True
    alnum = [b for b in value if b in _LETTERS or b in _DIGITS]
    if len(alnum) < min_len or switches(value) < _SWITCH_RATIO * len(alnum):
        return False
    kinds = (_UPPER & set(alnum), _LOWER & set(alnum), _DIGITS & set(alnum))
    return all(kinds) or (len(alnum) >= 24 and bool(kinds[2]) and bool(kinds[0] or kinds[1]))


def code(value: bytes) -> bool:
    """Source code rather than a value: a call, an index or a type annotation, or a
    dotted identifier path (see ``code_reference``)."""
    return b"(" in value or _CALL_OR_INDEX.match(value) is not None or code_reference(value)


def code_reference(value: bytes) -> bool:
    """A dotted identifier path (``settings.secret_key``, ``.Values.x``), not a token that
    contains a dot (``hvs.CAESIJ...``, ``Zk3m9Qp.X7vLr...``): those have 16+ letters and
    digits switching class often (``v3.Saml2Password``, 15, is a class path)."""
    return _DOTTED_NAME.fullmatch(value) is not None and not opaque(value, 16)


def generated(value: bytes) -> bool:
    """Looks machine-made: 8+ characters mixing digits and letters, or long mixed case.

    Tokens and keys are random; a value of plain words under a name like ``token`` is a
    setting. (Passwords are judged by their name alone: people choose them.)
    """
    if len(value) < 8 or value.isdigit():
        return False
    has_digit = any(c in _DIGITS for c in value)
    has_alpha = any(c in _LETTERS for c in value)
    mixed_case = value != value.lower() and value != value.upper()
    return (has_digit and has_alpha) or (mixed_case and len(value) >= 16)


def chosen(value: bytes) -> bool:
    """A password someone chose, where the name alone is weaker evidence (``DB_PASS``,
    ``password`` in a .netrc line, ``mysql -p``): 6+ characters with a digit or a symbol,
    so neither a word (``bypass: disabled``) nor an identifier (``opt_api``, ``dbPass``)."""
    value = value.rstrip(b".,;:!?")  # prose: "the first-pass PreBuildVisitor."
    return len(value) >= 6 and _WORDLIKE.fullmatch(value) is None
