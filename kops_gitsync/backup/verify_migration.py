"""Proof that a migration landed: list and hash both sides, object by object.

The copy's own answers (a version token per write) say the target accepted bytes, not that
it holds them, nor that the source did not change while it was being copied. So after the
writes both stores are listed again. Source side: every object must still be at the version
token it was read (and hashed) at, and nothing may have appeared; a token moves with every
write on every scheme, so this needs no second read of the source. Target side: every object
is read back and compared by SHA-256 with what was meant to be written (which differs from
the source only where configBase was rewritten). Hashing the target rather than trusting its
tokens is the point: an ETag is not a content hash on every S3 look-alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kops_gitsync.vfs.base import Store

WORKERS = 16


@dataclass(frozen=True)
class Expected:
    source_version: str  # the source's token when it was read and hashed
    target_sha256: str  # what the target must hold (configBase rewritten where it applies)


@dataclass
class Verification:
    checked: int = 0
    source_changed: list[str] = field(default_factory=list)  # changed, added or gone
    target_wrong: list[str] = field(default_factory=list)  # missing or different bytes

    @property
    def ok(self) -> bool:
        return not self.source_changed and not self.target_wrong


def hash_objects(store: Store, keys: list[str]) -> dict[str, str | None]:
    """SHA-256 of each key's current bytes (None: absent), read concurrently."""

    def one(key: str) -> tuple[str, str | None]:
        try:
            return key, hashlib.sha256(store.read(key).data).hexdigest()
        except FileNotFoundError:
            return key, None

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(one, keys))


def verify_migration(
    source: Store, target: Store, expected: Mapping[str, Expected], prefixes: list[str],
) -> Verification:
    """Both listings under ``prefixes`` ("" for the whole store), the source's tokens compared
    and the target's bytes hashed. New source objects under the prefixes count as changes."""
    result = Verification(checked=len(expected))
    source_now = {o.key: o.version for p in prefixes for o in source.list(p)
                  if not o.key.startswith(".kops-gitsync")}
    keys = sorted(expected)
    result.source_changed += sorted(set(source_now) - set(expected))
    target_listed = {o.key for p in prefixes for o in target.list(p)}
    target_now = hash_objects(target, keys)
    for key in keys:
        if source_now.get(key) != expected[key].source_version:
            result.source_changed.append(key)
        if key not in target_listed or target_now[key] != expected[key].target_sha256:
            result.target_wrong.append(key)
    result.source_changed.sort()
    return result
