"""``s3://`` and the S3-flavoured schemes kops knows (``do://``, ``scw://``, ``linode://``,
``hos://``), on botocore (the SDK under boto3).

Settings are read the way kops reads them (``util/pkg/vfs/s3context.go``), so a user's
existing environment just works:

* ``S3_ENDPOINT`` set (required for every scheme except ``s3://``): a custom S3-compatible
  server with the static keys ``S3_ACCESS_KEY_ID``/``S3_SECRET_ACCESS_KEY``, region
  ``S3_REGION`` or ``us-east-1``, path-style addressing.
* otherwise AWS: the default credential chain, region ``AWS_REGION``, else the bucket's own
  location, else ``us-east-1``.

Writes carry ``Content-Type: application/octet-stream``, the canned ACL from
``KOPS_STATE_S3_ACL`` and, on ``s3://`` only, SSE-S3 (``AES256``) unless the bucket already
encrypts by default, exactly as kops does, so an object written by kops-gitsync is
indistinguishable from one written by kops (apart from the ``x-amz-meta-*`` user metadata
push may add).

The version token is the ETag without quotes; listing and read report the same one.
Preconditions are sent as ``If-None-Match: *`` and ``If-Match``. AWS enforces both; for a
custom endpoint, ``KOPS_GITSYNC_S3_CONDITIONAL`` says whether the server does (``on``/``off``)
or asks a one-off probe (``auto``, the default; vfs/s3_probe.py). Whatever the server cannot
enforce is still checked client-side (HEAD, compare, write) and the capability flags admit
it, so push falls back to the store lock instead of trusting a guarantee that is not there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import botocore.config
import botocore.exceptions
import botocore.session
import botocore.utils

from kops_gitsync.errors import (
    FatalError,
    ObjectExists,
    ObjectTooLarge,
    PreconditionFailed,
)
from kops_gitsync.vfs import pacer
from kops_gitsync.vfs.base import (
    CONTENT_TYPE,
    Blob,
    Capabilities,
    ObjectInfo,
    ObjectStat,
    ObjectVersion,
    RequestCounts,
    check_metadata,
    decode_metadata,
    read_capped,
)
from kops_gitsync.vfs.capcache import CapabilityCache
from kops_gitsync.vfs.keys import check_key, printable
from kops_gitsync.vfs.s3_errors import parse_timestamp, translate
from kops_gitsync.vfs.s3_probe import cached_encryption, cached_probe, configured_capabilities
from kops_gitsync.vfs.s3_settings import (
    CONDITIONAL_MODES,
    CONDITIONAL_VAR,
    S3_SCHEMES,
    S3Settings,
    parse_url,
    region_from_location,
    s3_settings,
)

__all__ = [
    "CONDITIONAL_MODES", "CONDITIONAL_VAR", "S3_SCHEMES", "S3Settings", "S3Store",
    "parse_url", "region_from_location", "s3_settings",
]

T = TypeVar("T")


_REQUEST_KINDS = {
    "ListObjectsV2": "LIST", "ListObjects": "LIST", "GetObject": "GET", "HeadObject": "HEAD",
    "HeadBucket": "HEAD", "PutObject": "PUT", "DeleteObject": "DELETE", "DeleteObjects": "DELETE",
    "ListObjectVersions": "LIST",
}


_LOADER: list[Any] = []  # the first session's data loader, shared by every later one


def _shared_loader(core: botocore.session.Session, cache: CapabilityCache) -> Any:
    """One botocore data loader per process: it caches the JSON it parsed (the S3 model, the
    endpoint rules and endpoints.json, ~60 ms), so a daemon with several s3:// stores, or
    reloading its configuration, parses them once instead of once per store; and it keeps
    them between processes in the cache folder (vfs/s3_models.py), so a CLI run reads them
    in ~6 ms instead of ~50."""
    if not _LOADER:
        from kops_gitsync.vfs.s3_models import CachingLoader

        default = core.get_component("data_loader")
        folder = cache.path.parent if cache.path is not None else None
        _LOADER.append(CachingLoader(list(default.search_paths), folder))
    return _LOADER[0]


class S3Store:
    """One bucket (and optional prefix) of an S3-compatible service."""

    def __init__(
        self, settings: S3Settings, url: str, timeouts: pacer.Timeouts | None = None,
        cache: CapabilityCache | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.cache = cache or CapabilityCache(None, url)  # None: remember nothing
        self.request_counts = RequestCounts()
        self.retry_attempts = pacer.ATTEMPTS
        self.retry_initial_wait = pacer.INITIAL_WAIT
        self.timeouts = timeouts or pacer.timeouts({})
        self.pacer = pacer.Pacer(url)
        self._lazy_lock = threading.RLock()  # the probe writes like any write (SSE, ACL)
        self._sse: str | bool | None = False  # False: not asked yet
        self._capabilities = configured_capabilities(settings)
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader(core, self.cache))
        # Listings carry a LastModified per object that kops-gitsync never uses; botocore's
        # default parser (dateutil) made up half the client CPU of a listing.
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=parse_timestamp)
        # botocore directly, not boto3: boto3's import pulls in s3transfer (~0.2 s of every
        # process's start-up) for transfer helpers this backend never uses.
        try:
            if settings.profile:
                core.set_config_variable("profile", settings.profile)
            if settings.access_key or settings.secret_key or settings.session_token:
                core.set_credentials(settings.access_key, settings.secret_key,
                                     settings.session_token)
            self._session = core
            credentials = core.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:  # unknown profile, broken config
            raise FatalError(f"AWS settings for {url} are not usable: {exc}") from exc
        if credentials is None:
            raise FatalError(
                f"no AWS credentials for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE, or run where an instance role is available"
            )
        region = settings.region or self._bucket_region()
        self._client = self._make_client(region)

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> S3Store:
        settings = s3_settings(url, env)
        url = url.rstrip("/")
        return cls(settings, url, pacer.timeouts(env),
                   CapabilityCache.for_store(env, url, settings.endpoint))

    # -- plumbing -------------------------------------------------------------------------

    def _make_client(self, region: str) -> Any:
        custom = self.settings.endpoint is not None
        config = botocore.config.Config(
            region_name=region,
            retries={"total_max_attempts": 1},  # one retry policy: the pacer's
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            max_pool_connections=32,
            s3={"addressing_style": "path" if custom else "auto"},
            # Newer botocore adds CRC checksums that several S3 look-alikes reject (kops turns
            # them off for Linode); send them only where the operation requires one.
            request_checksum_calculation="when_required" if custom else "when_supported",
            response_checksum_validation="when_required" if custom else "when_supported",
        )
        client = self._session.create_client(
            "s3", endpoint_url=self.settings.endpoint, config=config)
        client.meta.events.register("before-send.s3.*", self._count_request)
        return client

    def _count_request(self, event_name: str = "", **_: Any) -> None:
        kind = _REQUEST_KINDS.get(event_name.rsplit(".", 1)[-1], "OTHER")
        self.request_counts.add(kind)

    def _bucket_region(self) -> str:
        """kops' lookup: GetBucketLocation, else HeadBucket's region header, else us-east-1."""
        probe = self._make_client("us-east-1")
        bucket = self.settings.bucket
        try:
            answer = probe.get_bucket_location(Bucket=bucket)
            return region_from_location(answer.get("LocationConstraint"))
        except botocore.exceptions.ClientError as exc:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if headers.get("x-amz-bucket-region"):
                return str(headers["x-amz-bucket-region"])
            try:
                probe.head_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError as head_exc:
                meta = head_exc.response.get("ResponseMetadata", {})
                return str(meta.get("HTTPHeaders", {}).get("x-amz-bucket-region", "us-east-1"))
            return "us-east-1"
        except botocore.exceptions.BotoCoreError:
            return "us-east-1"
        finally:
            probe.close()

    def _object_key(self, key: str) -> str:
        return self.settings.prefix + check_key(key)

    def _call(self, fn: Callable[[], T], key: str | None, *, creating: bool = False) -> T:
        """Run one SDK call under the pacer with errors translated to the store vocabulary."""

        def attempt() -> T:
            try:
                return fn()
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise self._translate(exc, key, creating) from exc

        return self.pacer.call(
            attempt, attempts=self.retry_attempts, initial=self.retry_initial_wait)

    def _translate(self, exc: Exception, key: str | None, creating: bool) -> Exception:
        return translate(exc, self.settings, self.url, self.timeouts, key, creating)

    # -- capabilities -----------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What the server enforces; on a custom endpoint in ``auto`` mode, probed once."""
        with self._lazy_lock:
            if self._capabilities is None:
                self._capabilities = cached_probe(self)
            return self._capabilities

    @capabilities.setter
    def capabilities(self, value: Capabilities) -> None:
        with self._lazy_lock:
            self._capabilities = value

    # -- the Store contract -----------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        root = self.settings.prefix
        args: dict[str, str] = {"Bucket": self.settings.bucket, "Prefix": root + prefix}
        while True:
            page = self._call(lambda: self._client.list_objects_v2(**args), None)
            for entry in page.get("Contents", []):
                key = entry["Key"][len(root):]
                if key.endswith("/") and entry["Size"] == 0:
                    continue  # a console "folder" marker: no file to mirror
                yield ObjectInfo(key=key, size=entry["Size"], version=entry["ETag"].strip('"'))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            args["ContinuationToken"] = token

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        return self._get_object(key, max_bytes, None)

    def _get_object(self, key: str, max_bytes: int | None, version_id: str | None) -> Blob:
        """GetObject, of the current object or (``version_id``) of a kept version."""
        args = {"Bucket": self.settings.bucket, "Key": self._object_key(key)}
        if version_id is not None:
            args["VersionId"] = version_id

        def get() -> Blob:
            answer = self._client.get_object(**args)
            body = answer["Body"]
            try:
                data = read_capped(body.read, key, max_bytes, answer.get("ContentLength"))
            except ObjectTooLarge:
                body.close()  # drop the connection instead of draining the rest
                raise
            return Blob(data, answer["ETag"].strip('"'))

        return self._call(get, key)

    def stat(self, key: str) -> ObjectStat:
        answer = self._call(lambda: self._client.head_object(
            Bucket=self.settings.bucket, Key=self._object_key(key)), key)
        return ObjectStat(key, int(answer["ContentLength"]), str(answer["ETag"]).strip('"'),
                          decode_metadata(answer.get("Metadata") or {}))

    def _head_version(self, key: str) -> str | None:
        try:
            answer = self._call(lambda: self._client.head_object(
                Bucket=self.settings.bucket, Key=self._object_key(key)), key)
        except FileNotFoundError:
            return None
        return str(answer["ETag"]).strip('"')

    def _check_client_side(self, key: str, if_match: str | None, if_none_match: bool) -> None:
        """The fallback for preconditions the server does not enforce: narrows, never closes,
        the race window (the capability flags say so)."""
        current = self._head_version(key)
        if if_none_match and current is not None:
            raise ObjectExists(f"{printable(key)} already exists", key=key)
        if if_match is not None:
            if current is None:
                raise FileNotFoundError(key)
            if current != if_match:
                raise PreconditionFailed(f"{printable(key)} changed on the store", key=key)

    def _sse_argument(self) -> dict[str, str]:
        """kops' rule: AES256 unless GetBucketEncryption shows a default (asked once)."""
        if not self.settings.sse:
            return {}
        with self._lazy_lock:
            if self._sse is False:
                self._sse = cached_encryption(self)
            sse = self._sse
        return {"ServerSideEncryption": sse} if isinstance(sse, str) else {}

    def _put_arguments(
        self, key: str, data: bytes, metadata: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": self._object_key(key),
                                "Body": data, "ContentType": CONTENT_TYPE}
        if metadata:
            args["Metadata"] = check_metadata(metadata)
        if self.settings.acl:
            args["ACL"] = self.settings.acl
        args.update(self._sse_argument())
        return args

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        args = self._put_arguments(key, data, metadata)
        if if_none_match or if_match is not None:
            caps = self.capabilities
            server_side = caps.conditional_create if if_none_match else caps.conditional_replace
            if not server_side:
                self._check_client_side(key, if_match, if_none_match)
            elif if_none_match:
                args["IfNoneMatch"] = "*"
            else:
                args["IfMatch"] = f'"{if_match}"'
        answer = self._call(lambda: self._client.put_object(**args), key, creating=if_none_match)
        return str(answer["ETag"]).strip('"')

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        args: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": self._object_key(key)}
        if if_match is not None:
            if self.capabilities.conditional_delete:
                args["IfMatch"] = f'"{if_match}"'
            else:
                self._check_client_side(key, if_match, False)
        self._call(lambda: self._client.delete_object(**args), key)

    # -- kept versions (Capabilities.versions; vfs/s3_versions.py) -------------------------

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        from kops_gitsync.vfs.s3_versions import list_versions

        return list_versions(self, prefix)

    def read_version(self, key: str, version_id: str, *, max_bytes: int | None = None) -> Blob:
        return self._get_object(key, max_bytes, version_id)

    def close(self) -> None:
        self._client.close()
