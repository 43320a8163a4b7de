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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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

    @property
    def compare_and_swap(self) -> bool:
        return self.conditional_create and self.conditional_replace and self.conditional_delete


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

    def read(self, key: str) -> Blob:
        """The object's bytes and version. A missing object raises ``FileNotFoundError``."""
        ...

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Store ``data`` at ``key`` and return the new version token.

        ``if_none_match``: only if the key is absent, else ``ObjectExists``.
        ``if_match``: only if the key is at that version, else ``PreconditionFailed``
        (``FileNotFoundError`` when it is gone altogether).
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
