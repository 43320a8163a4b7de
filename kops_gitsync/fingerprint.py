"""How a secret's content is shown anywhere: ``sha256:`` and the digest's first 12 hex digits.

``review`` (the semantic diff) and ``backup`` (encrypted copies, restore, push) both name
secrets this way in plans and messages; one definition keeps the fingerprint an operator sees
in a review comment the same as the one a restore or a pull prints for the same bytes.
"""

from __future__ import annotations

import hashlib

FINGERPRINT_HEX = 12


def fingerprint(sha256: str) -> str:
    """The fingerprint of content whose SHA-256 (hex) is ``sha256``; never the value."""
    return f"sha256:{sha256[:FINGERPRINT_HEX]}"


def fingerprint_of(data: bytes | str) -> str:
    """The fingerprint of ``data`` (a str is hashed as its UTF-8 bytes, lone surrogates kept)."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return fingerprint(hashlib.sha256(raw).hexdigest())
