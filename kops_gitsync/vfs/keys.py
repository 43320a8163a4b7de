"""Which object keys can be mirrored into a working tree without escaping it or steering git.

Object stores accept almost any byte string as a key; a file system and git do not. A key
such as ``../../etc/passwd`` or ``/abs`` written naively under the mirror would land outside
it, so every key crossing the store/working-tree boundary (in either direction) passes here.

Inside the tree, some names are instructions to git rather than data: a store object
``<cluster>/.gitattributes`` holding ``* merge=union`` would replace the YAML merge driver
and merge conflicts silently, a ``.gitignore`` would hide a reviewer's new InstanceGroup from
``git add -A``. kops never writes a name starting with ``.git`` (or ``.mailmap``), so every
such component is refused, case-insensitively (macOS and Windows file systems fold case,
and git itself protects ``.GIT`` and the NTFS short name ``git~1`` the same way).

A key is also shown to people (errors, status lines), so it must not be able to forge an
output line: control and invisible characters are refused here, and :func:`printable`
escapes them in every message.
"""

from __future__ import annotations

from collections.abc import Iterable

from kops_gitsync.errors import InvalidKey

MAX_KEY_BYTES = 1024  # S3's limit; GCS and Swift allow about the same.
MAX_COMPONENT_BYTES = 255  # NAME_MAX of ext4, XFS, APFS: a longer file name cannot be checked out
_GIT_CONTROL_PREFIX = ".git"  # .git, .gitattributes, .gitignore, .gitmodules, .gitkeep, ...
_GIT_CONTROL_NAMES = frozenset({".mailmap", "git~1"})


def _component_problem(part: str) -> str | None:
    if part in ("", ".", ".."):
        return f"path segment {part!r} would escape or alias the mirror"
    lower = part.lower()
    if lower == ".git":
        return "a .git segment cannot be stored in git"
    if lower.startswith(_GIT_CONTROL_PREFIX) or lower in _GIT_CONTROL_NAMES:
        return (
            f"{part!r} is a name git reads as its own configuration (attributes, ignore "
            "rules, submodules); kops never writes one"
        )
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        return f"a path segment is longer than {MAX_COMPONENT_BYTES} bytes"
    return None


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
    if not key.isprintable():  # newlines, tabs, ESC, DEL, C1, bidi overrides, zero-width ...
        bad = next(ch for ch in key if not ch.isprintable())
        return f"contains the control or invisible character U+{ord(bad):04X}"
    if key.startswith("/"):
        return "absolute path"
    if "\\" in key:
        return "contains a backslash"
    for part in key.split("/"):
        problem = _component_problem(part)
        if problem is not None:
            return problem
    return None


def check_key(key: str) -> str:
    """Return ``key`` unchanged, or raise ``InvalidKey`` saying why it is unsafe."""
    problem = key_problem(key)
    if problem is not None:
        raise InvalidKey(f"unsafe object key {printable(key)!r}: {problem}", key=key)
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


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` on one line: control and invisible characters, and bytes that were not UTF-8
    (surrogate escapes), become ``\\n``, ``\\xNN`` or ``\\uNNNN``; everything else is kept."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable():
            out.append(ch)
        elif ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def printable(key: str) -> str:
    """A key as it can be shown in a message: one line, unambiguous, even when it holds
    newlines, terminal escapes or undecodable bytes (a backslash is shown doubled, so an
    escape can never be mistaken for the key's own text)."""
    return escape_controls(key.replace("\\", "\\\\"))
