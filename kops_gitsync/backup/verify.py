"""Did a copy arrive? List the target and hash every object both sides, by key.

Shared by ``restore`` and ``migrate``: the copy is judged by what the *target* serves
(a fresh listing and a read of every object), never by the writes having returned OK,
because a proxy, a lifecycle rule or an eventually consistent listing can make the two
differ. Reads run a few at a time: a kops store is thousands of small objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.keys import printable

READ_WORKERS = 16
MAX_SHOWN = 20


def digest_of(value: bytes | str) -> str:
    """A source object's SHA-256: bytes are hashed, a str is taken as the hex digest."""
    return hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else value


def verify_copy(
    source_objects: Mapping[str, bytes | str],
    target: Store,
    prefix: str = "",
    *,
    exact: bool = False,
    ignore: Callable[[str], bool] | None = None,
) -> list[str]:
    """Problems found comparing ``source_objects`` (key -> bytes or sha256 hex) with what
    ``target`` lists and serves under ``prefix``; an empty list means the copy is complete.

    Every source key must start with ``prefix``. ``exact``: objects the target holds under
    ``prefix`` that the source lacks are problems too. ``ignore``: target keys never
    compared (the store lock). One problem per line, each naming its key.
    """
    listed = {o.key: o.size for o in target.list(prefix) if not (ignore and ignore(o.key))}
    problems = [f"{printable(k)}: missing from {target.url}"
                for k in sorted(source_objects) if k not in listed]
    if exact:
        problems += [f"{printable(k)}: in {target.url} but not in the source"
                     for k in sorted(set(listed) - set(source_objects))]

    def check(key: str) -> str | None:
        try:
            data = target.read(key).data
        except FileNotFoundError:
            return f"{printable(key)}: listed by {target.url} but not readable"
        if hashlib.sha256(data).hexdigest() != digest_of(source_objects[key]):
            return f"{printable(key)}: content in {target.url} differs from the source"
        return None

    present = sorted(k for k in source_objects if k in listed)
    if present:
        with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(present))) as pool:
            problems += [p for p in pool.map(check, present) if p is not None]
    return problems


def summarize(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_SHOWN])
    more = f" (and {len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
    return shown + more
