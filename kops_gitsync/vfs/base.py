"""The store contract every backend implements.

kops' own VFS (``util/pkg/vfs``) reads and writes blindly: no version token on read, no
precondition on write. Everything kops-gitsync promises (incremental pulls, three-way pushes
that never revert a change they did not make) rests on the two things this contract adds:

* every listing entry and every read carries an opaque **version token** (an S3 ETag, a GCS
  generation, a Kubernetes resourceVersion, the SHA-256 of a local file), and a token seen in a
  listing equals the token a read of the same unchanged object returns;
* every write and delete can carry a **precondition** (only if absent / only if still at
  version V), which a backend either enforces on the server or declares it cannot, through
  :class:`Capabilities`. Callers check the flags, never the scheme.

Keys are relative to the store root, ``/``-separated, and never start with ``/``.

Two more things every backend does the same way, because the store is shared with kops and
may be written by anyone: a read can be capped (``max_bytes``), refusing an oversized object
*before* its body is read (``ObjectTooLarge``), and a write looks like kops' own
(``Content-Type: application/octet-stream``) while optionally carrying user metadata where
the scheme has it (``Capabilities.write_metadata``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import quote, unquote

from kops_gitsync.errors import FatalError, ObjectTooLarge

DEFAULT_MAX_OBJECT_BYTES = 16 * 1024 * 1024  # kops' largest objects are ~0.5 MB manifests
CONTENT_TYPE = "application/octet-stream"  # what kops sends on every write
READ_CHUNK = 256 * 1024
_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Header-safe without escaping: printable ASCII except "%", which marks an escape.
_METADATA_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One listing entry. Listing never reads bodies, so this is all a pull gets for free."""

    key: str
    size: int
    version: str


@dataclass(frozen=True, slots=True)
class Blob:
    """An object's bytes together with the version they were read at."""

    data: bytes
    version: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can guarantee on the server side.

    ``conditional_create``: a create-if-absent is atomic (two racing creators: one loses).
    ``conditional_replace``: a replace-if-version is atomic (compare-and-swap).
    ``conditional_delete``: a delete-if-version is atomic.
    A backend that lacks one still accepts the argument but checks it client-side
    (read, compare, write), which narrows the race window without closing it; push
    compensates with the store lock, and the docs say which guarantee remains.
    """

    conditional_create: bool
    conditional_replace: bool
    conditional_delete: bool
    # ``write(metadata=...)`` is stored and ``stat()`` returns it; False: silently dropped
    # (file://, memfs://, k8s:// have nowhere to keep it).
    write_metadata: bool = False
    # ``list_versions()``/``read_version()`` exist (see :class:`VersionedStore`): the scheme
    # can keep every version of an object (S3 versioning, GCS object versioning). Whether a
    # given bucket does is only known by asking it; a scheme without the flag keeps none.
    versions: bool = False

    @property
    def compare_and_swap(self) -> bool:
        return self.conditional_create and self.conditional_replace and self.conditional_delete


@dataclass(frozen=True, slots=True)
class ObjectStat:
    """What a HEAD tells about one object: no body. ``metadata`` is the user metadata
    written with it (empty where the backend has no ``write_metadata``)."""

    key: str
    size: int
    version: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One past or present version of an object, or its deletion, as the store recorded it.

    ``version_id`` names the version for :meth:`VersionedStore.read_version` (an S3 version
    id, a GCS generation); ``token`` is what a plain listing reports for the same bytes (the
    ETag, the generation), so a history ends on exactly the sync state a pull records.
    ``modified`` is the store's own timestamp (seconds since the epoch, UTC). A deletion has
    ``deleted=True`` and no bytes to read.
    """

    key: str
    version_id: str
    token: str
    modified: float
    size: int
    deleted: bool = False


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as every scheme can carry it in an HTTP header.

    Names: lower-case letters, digits and ``-`` (S3 lower-cases them, Swift and OSS fold
    case, so anything else would not read back as written). Values: escaped with ``%XX``
    outside printable ASCII (a branch name may hold any UTF-8); :func:`decode_metadata`
    undoes it.
    """
    if not metadata:
        return {}
    for name in metadata:
        if not _METADATA_NAME.match(name):
            raise ValueError(f"metadata name {name!r}: use lower-case letters, digits and -")
    return {name: quote(value, safe=_METADATA_SAFE) for name, value in metadata.items()}


def decode_metadata(stored: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): unquote(value) for name, value in stored.items()}


def read_capped(
    read: Callable[[int], bytes], key: str, max_bytes: int | None, declared: int | None = None
) -> bytes:
    """Read a body through ``read(n)`` (``b""`` at the end), refusing more than ``max_bytes``.

    ``declared`` (a Content-Length, a listed size) is checked first, so an honest server's
    oversized object costs no body at all; a server that declares less than it sends is cut
    off one chunk past the limit.
    """
    if max_bytes is not None and declared is not None and declared > max_bytes:
        raise ObjectTooLarge(key, declared, max_bytes)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise ObjectTooLarge(key, None if declared is None else total, max_bytes)
        chunks.append(chunk)


class RequestCounts(dict[str, int]):
    """Requests a backend sent, by kind (LIST, GET, HEAD, PUT, DELETE, OTHER).

    Network backends keep one as ``request_counts`` for the benchmarks and the daemon's log
    lines. Thread-safe to add to; a kind never sent reads as 0 without being stored, so a
    comparison with ``{"LIST": 1}`` says exactly which requests went out.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __missing__(self, kind: str) -> int:
        return 0

    def add(self, kind: str) -> None:
        with self._lock:
            self[kind] = self.get(kind, 0) + 1


@runtime_checkable
class Store(Protocol):
    """A kops state store root. Implementations must be safe to call from several threads."""

    url: str
    capabilities: Capabilities

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (no delimiter), in any order.

        A missing bucket or container raises ``FatalStoreError``; an empty one lists nothing.
        """
        ...

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        """The object's bytes and version. A missing object raises ``FileNotFoundError``.

        ``max_bytes``: refuse a larger object with ``ObjectTooLarge``, decided from its
        declared size before the body is read, and never holding more than about
        ``max_bytes`` in memory whatever the server sends. None: no limit.
        """
        ...

    def stat(self, key: str) -> ObjectStat:
        """Size, version and user metadata without the body; ``FileNotFoundError`` if absent."""
        ...

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Store ``data`` at ``key`` and return the new version token.

        ``if_none_match``: only if the key is absent, else ``ObjectExists``.
        ``if_match``: only if the key is at that version, else ``PreconditionFailed``
        (``FileNotFoundError`` when it is gone altogether).
        ``metadata``: user metadata (see :func:`check_metadata`), kept where
        ``capabilities.write_metadata`` says so and ignored elsewhere.
        """
        ...

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Remove ``key``. Without ``if_match`` a missing key is not an error.

        With ``if_match``: ``PreconditionFailed`` if the object is at another version,
        ``FileNotFoundError`` if it is already gone.
        """
        ...

    def close(self) -> None:
        """Release connections and threads. Idempotent."""
        ...


class VersionedStore(Store, Protocol):
    """A store whose bucket may keep past versions (``Capabilities.versions``)."""

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every kept version and deletion of every key under ``prefix``; the keys in any
        order, each key's versions newest first (which settles versions stamped alike).

        Raises ``FatalError`` saying so when the bucket keeps no versions (versioning was
        never enabled): its only history is the present.
        """
        ...

    def read_version(self, key: str, version_id: str, *, max_bytes: int | None = None) -> Blob:
        """The bytes of one kept version; ``FileNotFoundError`` if it was removed since."""
        ...


def versioned(store: Store) -> VersionedStore:
    """``store`` as a :class:`VersionedStore`, or a ``FatalError`` saying it keeps none."""
    if not store.capabilities.versions or not hasattr(store, "list_versions"):
        scheme = store.url.split("://", 1)[0] if "://" in store.url else "file"
        raise FatalError(
            f"{store.url}: this store keeps no versions ({scheme}:// has no "
            "object versioning kops-gitsync can read; only s3:// and gs:// buckets do), so "
            "there is no history to import"
        )
    return store  # type: ignore[return-value]
