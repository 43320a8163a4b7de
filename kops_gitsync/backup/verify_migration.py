"""Proof that a migration landed: list and hash both sides, object by object.

The copy's own answers (a version token per write) say the target accepted bytes, not that
it holds them, nor that the source did not change while it was being copied. So after the
writes both stores are listed again and every migrated object is read back from both and
compared by SHA-256 with what was read from the source at the start (source side) and with
what was meant to be written (target side, which differs only where configBase was
rewritten).
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
    source_sha256: str  # what the source held when it was read
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
    """Both listings under ``prefixes`` ("" for the whole store) and every expected key hashed
    on both sides. New source objects under the prefixes count as source changes."""
    result = Verification(checked=len(expected))
    listed = {o.key for p in prefixes for o in source.list(p)}
    keys = sorted(expected)
    result.source_changed += sorted(k for k in listed - set(expected)
                                    if not k.startswith(".kops-gitsync"))
    source_now = hash_objects(source, keys)
    target_listed = {o.key for p in prefixes for o in target.list(p)}
    target_now = hash_objects(target, keys)
    for key in keys:
        if source_now[key] != expected[key].source_sha256:
            result.source_changed.append(key)
        if key not in target_listed or target_now[key] != expected[key].target_sha256:
            result.target_wrong.append(key)
    result.source_changed.sort()
    return result
