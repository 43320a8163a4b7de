"""``gs://`` stores on google-cloud-storage.

Credentials are Application Default Credentials, as in kops (``gsfs.go``). With
``STORAGE_EMULATOR_HOST`` set, requests go to that emulator with anonymous credentials, the
convention every Google client library follows.

The version token is the object *generation*, which GCS changes on every write and which a
listing reports for free; kops never looks at it. Preconditions map one to one:
create-if-absent is ``ifGenerationMatch=0``, replace and delete send the observed
generation. Uploads are single requests (no ``chunk_size``): GCS enforces preconditions on
resumable uploads too, but the emulators do not, and one request is also the cheapest way to
write the small objects kops keeps.

The client library's own retry loop (up to two minutes by default) is switched off on every
call, so that ``vfs/pacer.py`` alone decides how long a push keeps trying; every call has
connect and read timeouts (``KOPS_GITSYNC_STORE_TIMEOUT``, default 10 s).

Reads are one streamed ``alt=media`` GET through the client's authorised session rather than
``download_as_bytes``, which buffers the whole body before anyone can look at it: the
``Content-Length`` is checked against ``max_bytes`` first, the body is read in bounded
chunks, and the MD5 from ``x-goog-hash`` is still verified. Writes carry
``application/octet-stream`` like kops' and user metadata in the object resource.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import google.api_core.exceptions as gexc
import google.auth.exceptions
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from kops_gitsync.errors import (
    FatalError,
    FatalStoreError,
    ObjectExists,
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
    ObjectVersion,
    RequestCounts,
    check_metadata,
    decode_metadata,
    read_capped,
)
from kops_gitsync.vfs.keys import check_key, printable

T = TypeVar("T")

PAGE_SIZE = 1000  # the GCS maximum; named so that no emulator picks its own
_LIST_FIELDS = "items(name,size,generation),nextPageToken"


@dataclass(frozen=True)
class GCSSettings:
    bucket: str
    prefix: str  # "" or ends with "/"
    emulator: str | None  # STORAGE_EMULATOR_HOST, with a scheme
    project: str | None


def gcs_settings(url: str, env: Mapping[str, str]) -> GCSSettings:
    scheme, sep, rest = url.partition("://")
    if scheme != "gs" or not sep:
        raise FatalError(f"not a GCS state store URL: {url!r}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise FatalError(f"state store {url!r} names no bucket (gs://<bucket>[/path])")
    prefix = prefix.strip("/")
    emulator = env.get("STORAGE_EMULATOR_HOST", "").strip() or None
    if emulator and "://" not in emulator:
        emulator = f"http://{emulator}"
    project = env.get("GOOGLE_CLOUD_PROJECT", "").strip() or None
    return GCSSettings(bucket, f"{prefix}/" if prefix else "", emulator, project)


def _request_kind(method: str, url: str) -> str:
    path = urlsplit(url).path
    if method == "GET":
        if path.endswith("/o"):
            return "LIST"
        return "GET" if "alt=media" in url else "HEAD"  # metadata-only reads act as HEAD
    return {"POST": "PUT", "PUT": "PUT", "DELETE": "DELETE"}.get(method, "OTHER")


class GCSStore:
    """One bucket (and optional prefix) of Google Cloud Storage."""

    capabilities = Capabilities(
        conditional_create=True, conditional_replace=True, conditional_delete=True,
        write_metadata=True, versions=True,
    )

    def __init__(
        self, settings: GCSSettings, url: str, timeouts: pacer.Timeouts | None = None
    ) -> None:
        self.url = url
        self.settings = settings
        self.request_counts = RequestCounts()
        self.retry_attempts = pacer.ATTEMPTS
        self.retry_initial_wait = pacer.INITIAL_WAIT
        self.timeouts = timeouts or pacer.timeouts({})
        self.pacer = pacer.Pacer(url)
        try:
            if settings.emulator:
                self._client = storage.Client(
                    project=settings.project or "kops-gitsync",
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options={"api_endpoint": settings.emulator},
                    use_auth_w_custom_endpoint=False,
                )
            else:
                self._client = storage.Client(project=settings.project)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise FatalError(
                f"no Google credentials for {url}: run 'gcloud auth application-default login' "
                f"or set GOOGLE_APPLICATION_CREDENTIALS ({exc})"
            ) from exc
        self._client._http.hooks["response"].append(self._count_response)
        self._bucket = self._client.bucket(settings.bucket)

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> GCSStore:
        return cls(gcs_settings(url, env), url.rstrip("/"), pacer.timeouts(env))

    # -- plumbing -------------------------------------------------------------------------

    def _count_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        kind = _request_kind(request.method or "", request.url or "")
        self.request_counts.add(kind)

    def _name(self, key: str) -> str:
        return self.settings.prefix + check_key(key)

    def _call(self, fn: Callable[[], T], key: str | None, *, creating: bool = False,
              uploading: bool = False) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                translated = self._translate(exc, key, creating, uploading)
                if translated is None:
                    raise
                raise translated from exc

        return self.pacer.call(
            attempt, attempts=self.retry_attempts, initial=self.retry_initial_wait)

    def _translate(self, exc: Exception, key: str | None, creating: bool,
                   uploading: bool) -> Exception | None:
        where = f"gs://{self.settings.bucket}/{self.settings.prefix}{printable(key or '')}"
        if isinstance(exc, gexc.PreconditionFailed):
            if creating:
                return ObjectExists(f"{printable(key or '')} already exists", key=key)
            return PreconditionFailed(f"{printable(key or '')} changed on the store", key=key)
        if isinstance(exc, gexc.NotFound):
            # An object 404 and a bucket 404 look alike; a listing or an upload can only
            # mean the bucket.
            if key is None or uploading:
                return FatalStoreError(
                    f"bucket {self.settings.bucket!r} does not exist (store {self.url})")
            return FileNotFoundError(key)
        if isinstance(exc, gexc.Unauthorized | gexc.Forbidden):
            return FatalStoreError(
                f"GCS refused access to {where} ({exc.code}): check the credentials and the "
                "bucket's IAM policy", key=key)
        if isinstance(exc, gexc.TooManyRequests | gexc.ServerError):
            message = f"GCS answered {exc.code} for {where}: {exc.message}"
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None) or {}
            wait = pacer.retry_after_seconds(headers.get("Retry-After"))
            if wait is not None:
                return RetryLater(message, retry_after=wait, key=key)
            return RetryableStoreError(message, key=key)
        endpoint = self.settings.emulator or "GCS"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return RetryableStoreError(
                f"no connection to {endpoint} in {self.timeouts.connect:g} s ({where})", key=key)
        if isinstance(exc, requests.exceptions.Timeout):
            return RetryableStoreError(
                f"no answer from {endpoint} in {self.timeouts.read:g} s ({where})", key=key)
        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout
                      | google.auth.exceptions.TransportError):
            return RetryableStoreError(f"cannot reach GCS for {where}: {exc}", key=key)
        if isinstance(exc, google.auth.exceptions.RefreshError):
            return FatalError(f"Google credentials for {self.url} are not usable: {exc}")
        if isinstance(exc, gexc.GoogleAPICallError):
            return FatalStoreError(f"GCS refused the request for {where}: {exc}", key=key)
        return None

    # -- the Store contract -----------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        root = self.settings.prefix
        token: str | None = None
        while True:
            def page(token: str | None = token) -> tuple[list[Any], str | None]:
                listing = self._client.list_blobs(
                    self._bucket, prefix=root + prefix, page_token=token, page_size=PAGE_SIZE,
                    fields=_LIST_FIELDS,
                    retry=None, timeout=self.timeouts.pair,
                )
                blobs = list(next(listing.pages, []))
                return blobs, listing.next_page_token

            blobs, token = self._call(page, None)
            for blob in blobs:
                key = blob.name[len(root):]
                if key.endswith("/") and not blob.size:
                    continue  # a console "folder" placeholder: no file to mirror
                yield ObjectInfo(key=key, size=int(blob.size or 0), version=str(blob.generation))
            if not token:
                return

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        return self._download(key, max_bytes, None)

    def _download(self, key: str, max_bytes: int | None, generation: str | None) -> Blob:
        """The current object, or (``generation``) a kept generation, streamed and capped."""
        name = self._name(key)

        def get() -> Blob:
            blob = (self._bucket.blob(name) if generation is None
                    else self._bucket.blob(name, generation=int(generation)))
            url = blob._get_download_url(self._client)
            with self._client._http.get(url, stream=True, timeout=self.timeouts.pair) as answer:
                if answer.status_code != 200:
                    raise gexc.from_http_response(answer)  # type: ignore[no-untyped-call]
                declared = answer.headers.get("Content-Length")
                chunks = answer.iter_content(chunk_size=None)
                data = read_capped(lambda _n: next(chunks, b""), key, max_bytes,
                                   int(declared) if declared and declared.isdigit() else None)
                _check_md5(answer, data, key)
                return Blob(data, generation if generation is not None
                            else answer.headers.get("x-goog-generation", ""))

        return self._call(get, key)

    def stat(self, key: str) -> ObjectStat:
        blob = self._bucket.blob(self._name(key))
        self._call(lambda: blob.reload(retry=None, timeout=self.timeouts.pair), key)
        return ObjectStat(key, int(blob.size or 0), str(blob.generation),
                          decode_metadata(blob.metadata or {}))

    def _generation(self, key: str, if_match: str) -> int:
        """The observed generation as GCS wants it; a token that is not one cannot match."""
        if if_match.isdigit():
            return int(if_match)
        self._missing_or_changed(key)
        raise AssertionError("unreachable")

    def _missing_or_changed(self, key: str) -> None:
        """After a failed precondition: ``FileNotFoundError`` if the object is gone (as the
        contract wants), else ``PreconditionFailed``."""
        name = self._name(key)
        self._call(lambda: self._bucket.blob(name).reload(
            retry=None, timeout=self.timeouts.pair), key)
        raise PreconditionFailed(f"{printable(key)} changed on the store", key=key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        name = self._name(key)
        stored_metadata = check_metadata(metadata) or None
        condition: int | None = None
        if if_none_match:
            condition = 0
        elif if_match is not None:
            condition = self._generation(key, if_match)

        def upload() -> str:
            blob = self._bucket.blob(name)  # no chunk_size: one multipart request
            blob.metadata = stored_metadata
            blob.upload_from_string(
                data, content_type=CONTENT_TYPE, if_generation_match=condition,
                retry=None, timeout=self.timeouts.pair,
            )
            return str(blob.generation)

        try:
            return self._call(upload, key, creating=if_none_match, uploading=True)
        except ObjectExists:
            raise
        except PreconditionFailed:
            if if_match is None:
                raise
            self._missing_or_changed(key)
            raise

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        name = self._name(key)
        generation = None if if_match is None else self._generation(key, if_match)
        try:
            self._call(lambda: self._bucket.blob(name).delete(
                if_generation_match=generation, retry=None, timeout=self.timeouts.pair), key)
        except FileNotFoundError:
            if if_match is not None:
                raise

    # -- kept generations (Capabilities.versions; vfs/gcs_versions.py) ---------------------

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        from kops_gitsync.vfs.gcs_versions import list_versions

        return list_versions(self, prefix)

    def read_version(self, key: str, version_id: str, *, max_bytes: int | None = None) -> Blob:
        return self._download(key, max_bytes, version_id)

    def close(self) -> None:
        self._client.close()


def _check_md5(answer: requests.Response, data: bytes, key: str) -> None:
    """Compare with the MD5 GCS sends in ``x-goog-hash`` (absent for composite objects, and
    about the stored bytes, so skipped when the body was decompressed on the way)."""
    if answer.headers.get("Content-Encoding"):
        return
    for part in answer.headers.get("x-goog-hash", "").split(","):
        algorithm, _, value = part.strip().partition("=")
        if algorithm == "md5" and value:
            digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
            if digest != value:
                raise RetryableStoreError(f"{printable(key)}: the body does not match its MD5",
                                          key=key)
