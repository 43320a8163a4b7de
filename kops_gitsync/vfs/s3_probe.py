"""What an S3-compatible server enforces, and whether its bucket encrypts by default.

Kept apart from ``vfs/s3.py`` (the object operations) because these are questions asked once
per store and remembered (vfs/capcache.py), not requests of the Store contract: which
preconditions the server honours (AWS: all; a custom endpoint: ``KOPS_GITSYNC_S3_CONDITIONAL``
or a one-off probe) and which SSE header kops would send. Both answers change what a write
sends, never what it means: a precondition the server ignores is checked client-side and the
capability flags admit it, so push falls back to the store lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import botocore.exceptions

from kops_gitsync.errors import FatalStoreError, PreconditionFailed, RetryableStoreError, StoreError
from kops_gitsync.vfs.base import Capabilities
from kops_gitsync.vfs.s3_errors import UNSUPPORTED, error_code
from kops_gitsync.vfs.s3_settings import S3Settings

if TYPE_CHECKING:
    from kops_gitsync.vfs.s3 import S3Store


def configured_capabilities(settings: S3Settings) -> Capabilities | None:
    """What the settings alone say the server enforces; None: probe it when first needed."""
    if settings.conditional == "off":
        return Capabilities(False, False, False, write_metadata=True, versions=True)
    if settings.conditional == "on" or settings.endpoint is None:  # AWS enforces all three
        return Capabilities(True, True, True, write_metadata=True, versions=True)
    return None


def cached_probe(store: S3Store) -> Capabilities:
    """The probe's answer from the capability cache (vfs/capcache.py), or a new probe.
    A stale "enforced" would let two lock creators both win: the entry lasts a day,
    ``--refresh-capabilities`` re-asks, ``KOPS_GITSYNC_S3_CONDITIONAL`` pins it."""
    known, flags = store.cache.get("conditional")
    if known and isinstance(flags, list) and len(flags) == 3:
        create, replace, delete = flags
        return Capabilities(create, replace, delete, write_metadata=True, versions=True)
    probed = probe_conditionals(store)
    store.cache.put("conditional", [probed.conditional_create, probed.conditional_replace,
                                    probed.conditional_delete])
    return probed


def probe_conditionals(store: S3Store) -> Capabilities:
    """Try each precondition on a scratch object at the store root, then remove it.

    Honoured means the server answered 412 to a precondition that cannot hold; a server
    that ignores the header (it writes or deletes anyway) or rejects it as unknown does not
    honour it. The probe object never lives inside a cluster folder.
    """
    key = f".kops-gitsync.probe-{uuid.uuid4().hex}"
    name = store._object_key(key)
    bucket = store.settings.bucket
    client = store._client
    wrong = '"00000000000000000000000000000000"'

    def refused(fn: Callable[[], object]) -> bool:
        try:
            store._call(fn, key)
        except PreconditionFailed:
            return True
        except FatalStoreError as exc:
            cause = exc.__cause__
            if (isinstance(cause, botocore.exceptions.ClientError)
                    and error_code(cause)[0] in UNSUPPORTED):
                return False
            raise
        return False

    put = store._put_arguments(key, b"probe")
    store._call(lambda: client.put_object(**put), key)
    try:
        create = refused(lambda: client.put_object(**put, IfNoneMatch="*"))
        replace = refused(lambda: client.put_object(**put, IfMatch=wrong))
        delete = refused(lambda: client.delete_object(Bucket=bucket, Key=name, IfMatch=wrong))
    finally:
        store._call(lambda: client.delete_object(Bucket=bucket, Key=name), key)
    return Capabilities(create, replace, delete, write_metadata=True, versions=True)


def cached_encryption(store: S3Store) -> str | None:
    """The SSE header kops would send, from the capability cache or GetBucketEncryption.
    A stale answer costs little: AWS buckets all encrypt by default since January 2023,
    and elsewhere a stale "AES256" is what kops sends when it may not ask."""
    known, cached = store.cache.get("sse")
    if known and (cached is None or cached == "AES256"):
        return cached if isinstance(cached, str) else None
    sse: str | None
    try:  # paced like any request: a hung server is retried and said so
        answer = store._call(lambda: store._client.get_bucket_encryption(
            Bucket=store.settings.bucket), None)
        rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules")
        sse = None if rules else "AES256"
    except RetryableStoreError:  # not answered: use kops' default, ask again next time
        return "AES256"
    except (StoreError, FileNotFoundError):  # not allowed, not set
        sse = "AES256"
    store.cache.put("sse", sse)
    return sse
