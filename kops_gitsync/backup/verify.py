"""Did a copy arrive? List the target and hash every object, by key.

One check for ``restore`` and ``migrate`` (they had one module each, doing the same listing
and hashing). The copy is judged by what the *target* serves, a fresh listing and a read of
every object compared by SHA-256, never by the writes having returned OK or by the target's
version tokens: a proxy, a lifecycle rule or an eventually consistent listing can make the
two differ, and an ETag is not a content hash on every S3 look-alike. Reads run a few at a
time: a kops store is thousands of small objects.

``migrate`` also proves the *source* held still while it was copied (``source_changes``): a
version token moves with every write on every scheme, so comparing the tokens of a second
listing with those the objects were read at needs no second read of the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.keys import printable

READ_WORKERS = 16
T = TypeVar("T")
MAX_SHOWN = 20
TOOL_PREFIX = ".kops-gitsync"  # the tool's own objects (lock, manifests): never a change


def digest_of(value: bytes | str) -> str:
    """An object's SHA-256: bytes are hashed, a str is taken as the hex digest."""
    return hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else value


def read_each(keys: list[str], one: Callable[[str], tuple[str, T]]) -> dict[str, T]:
    """``dict(one(key) for key in keys)``, run on a small pool: objects of a few KB each,
    where the per-request latency, not the bandwidth, is what a pool hides."""
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(keys))) as pool:
        return dict(pool.map(one, keys))


def hash_objects(store: Store, keys: list[str]) -> dict[str, str | None]:
    """SHA-256 of each key's current bytes (None: absent), read concurrently."""

    def one(key: str) -> tuple[str, str | None]:
        try:
            return key, hashlib.sha256(store.read(key).data).hexdigest()
        except FileNotFoundError:
            return key, None

    return read_each(keys, one)


def verify_copy(
    expected: Mapping[str, bytes | str],
    target: Store,
    prefixes: list[str] | tuple[str, ...],
    *,
    ignore: Callable[[str], bool] | None = None,
) -> dict[str, str]:
    """Problems found comparing ``expected`` (key -> bytes or sha256 hex) with what ``target``
    lists and serves under ``prefixes`` ("" for the whole store), by key; each problem is one
    line naming its key. Empty: the copy is complete.

    Every expected key must start with one of ``prefixes``. ``ignore``: target keys never
    compared (the store lock). Missing keys come first, then unreadable or different ones,
    each group in key order.
    """
    listed = {o.key for p in prefixes for o in target.list(p) if not (ignore and ignore(o.key))}
    problems = {k: f"{printable(k)}: missing from {target.url}"
                for k in sorted(expected) if k not in listed}
    present = sorted(k for k in expected if k in listed)
    held = hash_objects(target, present)
    for key in present:
        if held[key] is None:
            problems[key] = f"{printable(key)}: listed by {target.url} but not readable"
        elif held[key] != digest_of(expected[key]):
            problems[key] = f"{printable(key)}: content in {target.url} differs from the source"
    return problems


def source_changes(source: Store, versions: Mapping[str, str],
                   prefixes: list[str] | tuple[str, ...]) -> list[str]:
    """Keys under ``prefixes`` whose version token is no longer the one in ``versions`` (the
    token each was read at), that are gone, or that are new; sorted."""
    now = {o.key: o.version for p in prefixes for o in source.list(p)
           if not o.key.startswith(TOOL_PREFIX)}
    moved = {k for k, version in versions.items() if now.get(k) != version}
    return sorted(moved | (set(now) - set(versions)))


def summarize(problems: list[str]) -> str:
    """The first ``MAX_SHOWN`` problems on one line, and how many more there are."""
    shown = "; ".join(problems[:MAX_SHOWN])
    more = f" (and {len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
    return shown + more
