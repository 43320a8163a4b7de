"""Which object keys can be mirrored into a working tree without escaping it.

Object stores accept almost any byte string as a key; a file system and git do not. A key
such as ``../../etc/passwd`` or ``/abs`` written naively under the mirror would land outside
it, so every key crossing the store/working-tree boundary (in either direction) passes here.
"""

from __future__ import annotations

from collections.abc import Iterable

from kops_gitsync.errors import InvalidKey

MAX_KEY_BYTES = 1024  # S3's limit; GCS and Swift allow about the same.


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be mirrored, or None when it can."""
    if not key:
        return "empty key"
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if len(encoded) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if "\x00" in key:
        return "contains a NUL byte"
    if key.startswith("/"):
        return "absolute path"
    if "\\" in key:
        return "contains a backslash"
    for part in key.split("/"):
        if part in ("", ".", ".."):
            return f"path segment {part!r} would escape or alias the mirror"
        if part.lower() == ".git":
            return "a .git segment cannot be stored in git"
    return None


def check_key(key: str) -> str:
    """Return ``key`` unchanged, or raise ``InvalidKey`` saying why it is unsafe."""
    problem = key_problem(key)
    if problem is not None:
        raise InvalidKey(f"unsafe object key {key!r}: {problem}", key=key)
    return key


def file_dir_collisions(keys: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs (file key, key below it): ``a`` and ``a/b`` cannot both exist on disk."""
    all_keys = set(keys)
    found = []
    for key in sorted(all_keys):
        parts = key.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in all_keys:
                found.append((parent, key))
                break
    return found


def printable(key: str) -> str:
    """A key as it can be shown in a message, even when it holds undecodable bytes."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
