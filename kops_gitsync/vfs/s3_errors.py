"""How S3 answers become the store vocabulary (``kops_gitsync.errors``), for s3.py.

One table for every S3-compatible server: AWS, MinIO, moto, Ceph and the look-alikes kops
supports answer with the same error codes, and where a server only sends a status the
status decides. A timeout names the endpoint and the time waited, so the pacer's retry line
says what happened ("no answer from ... in 10 s").
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
from typing import Any

import botocore.exceptions
import botocore.utils

from kops_gitsync.errors import (
    FatalError,
    FatalStoreError,
    ObjectExists,
    PreconditionFailed,
    RetryableStoreError,
    RetryLater,
)
from kops_gitsync.vfs.keys import printable
from kops_gitsync.vfs.pacer import Timeouts, retry_after_seconds
from kops_gitsync.vfs.s3_settings import S3Settings

NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
BAD_CREDENTIALS = {
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
    "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "403", "Forbidden",
}
THROTTLED = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestLimitExceeded",
    "TooManyRequests", "ServiceUnavailable", "InternalError", "ConditionalRequestConflict",
}
# What a server says when it does not understand a conditional header at all.
UNSUPPORTED = {"NotImplemented", "InvalidArgument", "InvalidRequest"}


def parse_timestamp(value: Any) -> datetime.datetime:
    """ISO 8601 (listings) and RFC 1123 (Last-Modified headers) without dateutil."""
    if isinstance(value, str):
        for parse in (datetime.datetime.fromisoformat, email.utils.parsedate_to_datetime):
            with contextlib.suppress(ValueError, TypeError):
                parsed = parse(value)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return botocore.utils.parse_timestamp(value)  # type: ignore[no-any-return]


def error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", status)), int(status)


def translate(
    exc: Exception, settings: S3Settings, url: str, timeouts: Timeouts, key: str | None,
    creating: bool,
) -> Exception:
    """An SDK exception as the store vocabulary (``kops_gitsync.errors``)."""
    where = f"s3://{settings.bucket}/{settings.prefix}{printable(key or '')}"
    endpoint = settings.endpoint or "AWS S3"
    no_credentials = (
        botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError
    )
    if isinstance(exc, no_credentials):
        return FatalError(f"no usable AWS credentials for {url}: {exc}")
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return RetryableStoreError(
            f"no answer from {endpoint} in {timeouts.read:g} s ({where})", key=key)
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return RetryableStoreError(
            f"no connection to {endpoint} in {timeouts.connect:g} s ({where})", key=key)
    if not isinstance(exc, botocore.exceptions.ClientError):
        return RetryableStoreError(f"cannot reach {endpoint} for {where}: {exc}", key=key)
    code, status = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    if status == 412 or code == "PreconditionFailed":
        if creating:
            return ObjectExists(f"{printable(key or '')} already exists", key=key)
        return PreconditionFailed(f"{printable(key or '')} changed on the store", key=key)
    if code == "NoSuchBucket":
        return FatalStoreError(
            f"bucket {settings.bucket!r} does not exist at {endpoint} (store {url})"
        )
    if code in NOT_FOUND and key is not None:
        return FileNotFoundError(key)
    if code in BAD_CREDENTIALS or status in (401, 403):
        return FatalStoreError(
            f"{endpoint} refused access to {where} ({code}): check the credentials "
            f"and the bucket policy",
            key=key,
        )
    if code in THROTTLED or status == 429 or status >= 500:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        message = f"{endpoint} answered {status} {code} for {where}"
        wait = retry_after_seconds(headers.get("retry-after"))
        if wait is not None:
            return RetryLater(message, retry_after=wait, key=key)
        return RetryableStoreError(message, key=key)
    return FatalStoreError(f"{endpoint} refused the request for {where}: {code} {message}",
                           key=key)
