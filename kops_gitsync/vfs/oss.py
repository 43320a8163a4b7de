"""``oss://bucket/prefix`` stores: Alibaba Cloud OSS through oss2.

kops dropped ``oss://`` in 1.24 (commit a0736b3c29); this backend exists for stores written
by older kops, and for moving them elsewhere (pull from oss://, push to another scheme). It
takes the settings those kops releases read: ``OSS_REGION`` (the endpoint is
``oss-<region>[-internal].aliyuncs.com``), ``ALIYUN_ACCESS_KEY_ID``,
``ALIYUN_ACCESS_KEY_SECRET`` and ``ALIYUN_OSS_INTERNAL`` (any value: the internal endpoint).
``KOPS_GITSYNC_OSS_ENDPOINT`` overrides the endpoint (tests, private deployments).

Guarantees: version = the ETag (upper-case hex MD5 for the simple PUTs kops and we make).
Create-if-absent is ``x-oss-forbid-overwrite: true``: OSS refuses an existing object (409
``FileAlreadyExists``), but its documentation says neither that racing creators are
serialised nor that the header works on versioned buckets (it says it does *not*). So a
create also reads back the ETag (a lost race becomes ``ObjectExists``), and on a versioned
bucket checks for the object first. OSS has no conditional PUT or DELETE, so replace- and
delete-if-version are a ``HEAD`` just before the write. None of the three is claimed as
atomic; push relies on its lock plus these checks, as on Swift.

oss2 waits 60 s by default for a connection or an answer; here both are
``KOPS_GITSYNC_STORE_TIMEOUT`` (default 10 s), a timeout is retried by the store's pacer with
a line on stderr, and a ``Retry-After`` is honoured. Reads stop at ``max_bytes`` (checked
against Content-Length first); writes carry ``application/octet-stream`` and
``x-oss-meta-*`` user metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import oss2
import requests
import urllib3

from kops_gitsync.errors import (
    FatalStoreError,
    ObjectExists,
    ObjectTooLarge,
    PreconditionFailed,
    RetryableStoreError,
    RetryLater,
)
from kops_gitsync.vfs import pacer
from kops_gitsync.vfs.base import (
    CONTENT_TYPE,
    Blob,
    Capabilities,
    ObjectInfo,
    ObjectStat,
    RequestCounts,
    check_metadata,
    decode_metadata,
    read_capped,
)
from kops_gitsync.vfs.keys import check_key, printable

ENDPOINT_VAR = "KOPS_GITSYNC_OSS_ENDPOINT"
LIST_PAGE_SIZE = 1000  # OSS's maximum max-keys
_RETRYABLE_CODES = {"ServiceUnavailable", "InternalError", "Throttling"}
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                     "SecurityTokenExpired", "InvalidSecurityToken"}
_META_PREFIX = "x-oss-meta-"

T = TypeVar("T")


@dataclass(frozen=True)
class OSSSettings:
    endpoint: str
    access_key_id: str
    access_key_secret: str


def oss_settings(env: Mapping[str, str]) -> OSSSettings:
    """The endpoint and keys old kops read (``util/pkg/vfs/osscontext.go`` before 1.24)."""
    key_id = env.get("ALIYUN_ACCESS_KEY_ID", "")
    secret = env.get("ALIYUN_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise FatalStoreError(
            "oss:// needs ALIYUN_ACCESS_KEY_ID and ALIYUN_ACCESS_KEY_SECRET "
            "(kops-gitsync does not read the ECS RAM role)"
        )
    endpoint = env.get(ENDPOINT_VAR, "").rstrip("/")
    if not endpoint:
        region = env.get("OSS_REGION", "").strip()
        if not region:
            raise FatalStoreError(
                f"oss:// needs OSS_REGION (e.g. cn-hangzhou) or {ENDPOINT_VAR}"
            )
        if not region.startswith("oss-"):
            region = f"oss-{region}"
        internal = "-internal" if env.get("ALIYUN_OSS_INTERNAL") else ""
        endpoint = f"https://{region}{internal}.aliyuncs.com"
    return OSSSettings(endpoint=endpoint, access_key_id=key_id, access_key_secret=secret)


class OSSStore:
    capabilities = Capabilities(
        conditional_create=False, conditional_replace=False, conditional_delete=False,
        write_metadata=True,
    )

    def __init__(
        self, url: str, bucket: str, prefix: str, settings: OSSSettings,
        timeouts: pacer.Timeouts | None = None,
    ) -> None:
        self.url = url
        self.bucket_name = bucket
        self.prefix = prefix
        self.settings = settings
        self.page_size = LIST_PAGE_SIZE
        self.retry_initial_wait = pacer.INITIAL_WAIT  # tests shorten the back-off
        self.request_counts = RequestCounts()
        self.timeouts = timeouts or pacer.timeouts({})
        self.pacer = pacer.Pacer(url)
        self._versioned: bool | None = None  # asked once, before the first create
        try:
            self._bucket = oss2.Bucket(
                oss2.Auth(settings.access_key_id, settings.access_key_secret),
                settings.endpoint,
                bucket,
                connect_timeout=self.timeouts.pair,  # oss2 hands it to requests as timeout=
            )
        except oss2.exceptions.ClientError as exc:  # oss2 checks the name before any request
            raise FatalStoreError(
                f"{url!r}: {bucket!r} is not a valid OSS bucket name "
                "(3-63 lower-case letters, digits and '-')"
            ) from exc

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> OSSStore:
        rest = url[len("oss://") :] if url.startswith("oss://") else ""
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise FatalStoreError(f"{url!r} names no bucket: use oss://BUCKET[/PATH]")
        prefix = prefix.strip("/")
        return cls(url, bucket, f"{prefix}/" if prefix else "", oss_settings(env),
                   pacer.timeouts(env))

    def _call(self, kind: str, fn: Callable[[], T], key: str | None = None) -> T:
        """Count and send one request; translate oss2's errors; let the pacer retry."""

        def attempt() -> T:
            self.request_counts.add(kind)
            try:
                return fn()
            except oss2.exceptions.OssError as exc:
                raise self._translate(exc, key) from exc
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise self._broken_off(exc, key) from exc  # while reading a body

        return self.pacer.call(attempt, initial=self.retry_initial_wait)

    def _broken_off(self, cause: BaseException, key: str | None) -> RetryableStoreError:
        where = f"{printable(key)} in {self.url}" if key else self.url
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            what = f"no connection to {self.settings.endpoint} in {self.timeouts.connect:g} s"
        elif isinstance(cause, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError) or (
                "timed out" in str(cause)):
            what = f"no answer from {self.settings.endpoint} in {self.timeouts.read:g} s"
        else:
            what = f"cannot reach {self.settings.endpoint}: {cause}"
        return RetryableStoreError(f"{what} ({where})", key=key)

    def _translate(self, exc: Any, key: str | None) -> Exception:
        status, code = int(exc.status), str(exc.code or "")
        where = f"{printable(key)} in {self.url}" if key else self.url
        if code == "NoSuchBucket":
            return FatalStoreError(f"OSS bucket {self.bucket_name!r} does not exist", key=key)
        if code == "NoSuchKey" or (status == 404 and key is not None):
            return FileNotFoundError(key)
        if code == "FileAlreadyExists":
            return ObjectExists(f"{printable(key or '')} already exists", key=key)
        if status == 412:
            return PreconditionFailed(f"{where} changed", key=key)
        if status < 0:  # oss2's RequestError (-2): the request itself failed
            return self._broken_off(getattr(exc, "exception", None) or exc, key)
        if status >= 500 or status == 429 or code in _RETRYABLE_CODES:
            message = f"OSS {status} {code} for {where}"
            wait = pacer.retry_after_seconds((exc.headers or {}).get("Retry-After"))
            if wait is not None:
                return RetryLater(message, retry_after=wait, key=key)
            return RetryableStoreError(message, key=key)
        if code == "RequestTimeTooSkewed":
            return FatalStoreError(
                "OSS refused the request: this machine's clock is more than 15 minutes off",
                key=key,
            )
        if status in (401, 403) or code in _CREDENTIAL_CODES:
            return FatalStoreError(
                f"OSS refused the credentials for {where} ({code}): check "
                "ALIYUN_ACCESS_KEY_ID and ALIYUN_ACCESS_KEY_SECRET",
                key=key,
            )
        return FatalStoreError(f"OSS answered {status} {code} for {where}", key=key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        token = ""
        while True:
            page = self._call(
                "LIST",
                lambda token=token: self._bucket.list_objects_v2(  # type: ignore[misc]
                    prefix=self.prefix + prefix, continuation_token=token, max_keys=self.page_size
                ),
            )
            for entry in page.object_list:
                yield ObjectInfo(
                    key=str(entry.key)[len(self.prefix) :],
                    size=int(entry.size),
                    version=str(entry.etag),
                )
            if not page.is_truncated:
                return
            token = str(page.next_continuation_token)

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        name = self.prefix + check_key(key)

        def get() -> Blob:
            result = self._bucket.get_object(name)
            try:
                data = read_capped(result.read, key, max_bytes, result.content_length)
            except ObjectTooLarge:
                result.resp.response.close()  # drop the connection, do not drain it
                raise
            return Blob(data=data, version=str(result.etag))

        return self._call("GET", get, key)

    def stat(self, key: str) -> ObjectStat:
        name = self.prefix + check_key(key)
        head = self._call("HEAD", lambda: self._bucket.head_object(name), key)
        metadata = {k[len(_META_PREFIX):]: v for k, v in head.headers.items()
                    if k.lower().startswith(_META_PREFIX)}
        return ObjectStat(key, int(head.content_length or 0), str(head.etag),
                          decode_metadata(metadata))

    def _check_version(self, key: str, expected: str) -> None:
        """The client-side precondition: narrows the race, the store lock closes it."""
        head = self._call("HEAD", lambda: self._bucket.head_object(self.prefix + key), key)
        if str(head.etag) != expected:
            raise PreconditionFailed(f"{printable(key)} changed in the store", key=key)

    def _bucket_versioned(self) -> bool:
        """Whether the bucket keeps versions, where OSS ignores x-oss-forbid-overwrite."""
        if self._versioned is None:
            try:
                status = self._call("OTHER", self._bucket.get_bucket_versioning).status
                self._versioned = status in ("Enabled", "Suspended")
            except FatalStoreError as exc:
                if "credentials" not in str(exc):
                    raise
                self._versioned = True  # not allowed to ask: assume the header may be ignored
        return self._versioned

    def _head_etag(self, key: str) -> str | None:
        try:
            head = self._call("HEAD", lambda: self._bucket.head_object(self.prefix + key), key)
        except FileNotFoundError:
            return None
        return str(head.etag)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        name = self.prefix + check_key(key)
        # kops gave every object a private ACL; a fixed Content-Type keeps oss2 from guessing.
        headers = {"x-oss-object-acl": "private", "Content-Type": CONTENT_TYPE}
        for meta_name, value in check_metadata(metadata).items():
            headers[_META_PREFIX + meta_name] = value
        if if_none_match:
            headers["x-oss-forbid-overwrite"] = "true"
            if self._bucket_versioned() and self._head_etag(key) is not None:
                raise ObjectExists(f"{printable(key)} already exists", key=key)
        if if_match is not None:
            self._check_version(key, if_match)
        result = self._call(
            "PUT", lambda: self._bucket.put_object(name, data, headers=headers), key
        )
        if if_none_match and self._head_etag(key) != str(result.etag):
            # Another creator's PUT landed after ours: theirs stays, so we lost the race.
            raise ObjectExists(f"{printable(key)} was created by someone else meanwhile", key=key)
        return str(result.etag)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        name = self.prefix + check_key(key)
        if if_match is not None:
            self._check_version(key, if_match)
        # OSS answers 204 for a missing key too, which is what the contract wants.
        self._call("DELETE", lambda: self._bucket.delete_object(name), key)

    def close(self) -> None:
        session = getattr(self._bucket, "session", None)
        inner = getattr(session, "session", None)
        if inner is not None:
            inner.close()
