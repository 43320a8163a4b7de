"""The error vocabulary shared by every room.

Two families, kept apart on purpose:

* ``FatalError`` is the one error a user sees as a short message and exit status 1
  (pre-commit's model). Anything that should stop a command with an explanation raises it.
* ``StoreError`` and its subclasses classify what a storage backend reported, the same way
  for every scheme, so callers (pull, push, the lock, the daemon's back-off) decide on the
  *class* of failure, never on a scheme name or an SDK exception type. "Not found" is the
  builtin ``FileNotFoundError``, as in fsspec, so ordinary Python code handles it naturally.
"""

from __future__ import annotations


class FatalError(RuntimeError):
    """Stop the command; ``str(err)`` is shown to the user as is."""


class StoreError(Exception):
    """A storage backend failed. Subclasses say whether trying again can help."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class PreconditionFailed(StoreError):
    """A conditional write or delete lost a race: the object is not at the expected version."""


class ObjectExists(PreconditionFailed, FileExistsError):
    """A create-if-absent found the object already there."""


class RetryableStoreError(StoreError):
    """Throttling, a 5xx, a dropped connection: the same call may succeed later."""


class FatalStoreError(StoreError):
    """Bad credentials, a missing bucket, a refused request: retrying will not help."""


class InvalidKey(StoreError, ValueError):
    """An object key that cannot be mirrored safely (``..``, absolute, not UTF-8, ...)."""


class MissingDependency(FatalError):
    """A backend's SDK is not installed; the message carries the pip command to fix it."""


class LockHeld(FatalError):
    """Another writer holds the store lock (or a lock object this version cannot read)."""


class LockLost(FatalError):
    """The store lock this process held was removed, replaced or expired: stop writing now."""


class RetryLater(RetryableStoreError):
    """The server said when to come back (``Retry-After``); every thread of the store waits."""

    def __init__(self, message: str, *, retry_after: float, key: str | None = None) -> None:
        super().__init__(message, key=key)
        self.retry_after = retry_after


class ObjectTooLarge(StoreError):
    """An object over the read limit, refused before its body is read.

    kops' largest objects are addon manifests of about half a megabyte; a 200 MB object in a
    state store is a mistake or an attack, and mirroring it made pull take minutes and
    hundreds of megabytes of memory and committed the blob to git for good.
    """

    def __init__(self, key: str, size: int | None, limit: int) -> None:
        found = f"more than {limit}" if size is None else str(size)
        super().__init__(
            f"{key!r} is too large to mirror: {found} bytes, the limit is {limit} bytes",
            key=key,
        )
        self.size = size
        self.limit = limit
