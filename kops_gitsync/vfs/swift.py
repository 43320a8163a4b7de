"""``swift://container/prefix`` stores: OpenStack Swift through openstacksdk.

openstacksdk does the authentication (Keystone password, application credential, token,
clouds.yaml) and finds the object-store endpoint; the requests themselves are plain Swift
HTTP sent through its authenticated session, because the guarantees hang on exact headers:

* version = the hex MD5 ETag (Swift's listing calls it ``hash``), the token kops' own
  ``swiftfs.go`` exposes, so a listing and a read agree without reading bodies;
* create-if-absent is ``PUT`` with ``If-None-Match: *``: Swift refuses an object that
  exists (412), but racing creators can all win (it checks before the body arrives), so a
  ``HEAD`` after the PUT turns a lost race into ``ObjectExists`` in nearly every case;
* Swift **ignores If-Match on PUT and DELETE** (there is no compare-and-swap in Swift at all),
  so replace-if-version and delete-if-version are checked client-side: a ``HEAD`` just before
  the write. That narrows the race to the gap between the two requests; push closes it among
  kops-gitsync writers with the store lock, and the capability flags say so.

Like kops, a write creates the container when it is missing; a listing of a missing
container is an error, because it almost always means a mistyped URL.

Every request has connect and read timeouts (``KOPS_GITSYNC_STORE_TIMEOUT``, default 10 s;
openstacksdk sets none, so a hung proxy used to hang the command). Reads stream the body and
stop at ``max_bytes``; writes carry ``application/octet-stream`` and ``X-Object-Meta-*``.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import keystoneauth1.exceptions as ks_exceptions
import openstack
import requests

from kops_gitsync.errors import (
    FatalStoreError,
    ObjectExists,
    PreconditionFailed,
    RetryableStoreError,
    RetryLater,
)
from kops_gitsync.vfs import pacer
from kops_gitsync.vfs.base import (
    CONTENT_TYPE,
    READ_CHUNK,
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
from kops_gitsync.vfs.swift_settings import SwiftSettings, swift_settings

__all__ = ["SwiftSettings", "SwiftStore", "connect", "swift_settings"]

LIST_PAGE_SIZE = 1000  # under any sane container_listing_limit (default 10000; more gives 412)
# openstacksdk warns about its own deprecations (InfluxDB metrics, ...) on every connection:
# nothing a kops-gitsync user can act on, so they stay out of the command's output.
warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"openstack\.")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"openstack\.")

_RETRYABLE_STATUS = {408, 429, 498, 500, 502, 503, 504}
_META_PREFIX = "x-object-meta-"


class SwiftStore:
    # conditional_create is False although Swift honours If-None-Match: it checks before the
    # body arrives, and 8 racing creators on a real Swift 2.38 got several 201s. See write().
    capabilities = Capabilities(
        conditional_create=False, conditional_replace=False, conditional_delete=False,
        write_metadata=True,
    )

    def __init__(
        self, url: str, container: str, prefix: str, settings: SwiftSettings,
        timeouts: pacer.Timeouts | None = None,
    ) -> None:
        self.url = url
        self.container = container
        self.prefix = prefix
        self.settings = settings
        self.page_size = LIST_PAGE_SIZE
        self.retry_initial_wait = pacer.INITIAL_WAIT  # tests shorten the back-off
        self.request_counts = RequestCounts()
        self.timeouts = timeouts or pacer.timeouts({})
        self.pacer = pacer.Pacer(url)
        self._connection: Any = None
        self._connection_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> SwiftStore:
        rest = url[len("swift://") :] if url.startswith("swift://") else ""
        container, _, prefix = rest.partition("/")
        if not container:
            raise FatalStoreError(f"{url!r} names no container: use swift://CONTAINER[/PATH]")
        prefix = prefix.strip("/")
        return cls(url, container, f"{prefix}/" if prefix else "", swift_settings(env),
                   pacer.timeouts(env))

    # -- plumbing ---------------------------------------------------------------------------

    def _object_store(self) -> Any:
        """openstacksdk's object-store proxy, a keystoneauth adapter bound to the endpoint."""
        with self._connection_lock:
            if self._connection is None:
                try:
                    self._connection = connect(self.settings)
                except (openstack.exceptions.SDKException, ks_exceptions.ClientException) as exc:
                    raise FatalStoreError(
                        f"cannot set up OpenStack for {self.url} "
                        f"({self.settings.source}): {exc}"
                    ) from exc
            return self._connection.object_store

    def _count(self, kind: str) -> None:
        self.request_counts.add(kind)

    def _path(self, key: str | None = None) -> str:
        container = quote(self.container, safe="")
        if key is None:
            return container
        return f"{container}/{quote(self.prefix + check_key(key), safe='/')}"

    def _send(
        self, kind: str, method: str, path: str, key: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """One request, retried by the pacer on throttling, 5xx, timeouts, dropped links."""
        return self.pacer.call(lambda: self._attempt(kind, method, path, key, **kwargs),
                               initial=self.retry_initial_wait)

    def _attempt(
        self, kind: str, method: str, path: str, key: str | None, **kwargs: Any
    ) -> requests.Response:
        """One try: the response, or the store error it amounts to."""
        self._count(kind)
        try:
            response: requests.Response = self._object_store().request(
                path, method, raise_exc=False, timeout=self.timeouts.pair, **kwargs
            )
        except ks_exceptions.Unauthorized as exc:
            raise FatalStoreError(
                f"OpenStack refused the credentials ({self.settings.source}): {exc}", key=key
            ) from exc
        except ks_exceptions.ConnectTimeout as exc:  # keystoneauth's name for both timeouts
            raise self._timed_out(exc.__context__, key) from exc
        except (ks_exceptions.ConnectionError, ks_exceptions.RetriableConnectionFailure) as exc:
            raise RetryableStoreError(f"{self.url}: {exc}", key=key) from exc
        except (ks_exceptions.ClientException, openstack.exceptions.SDKException) as exc:
            raise FatalStoreError(f"{self.url}: {exc}", key=key) from exc
        status = response.status_code
        if status in _RETRYABLE_STATUS:
            response.close()
            message = f"Swift answered {status} for {method} {path}"
            wait = pacer.retry_after_seconds(response.headers.get("Retry-After"))
            if wait is not None:
                raise RetryLater(message, retry_after=wait, key=key)
            raise RetryableStoreError(message, key=key)
        if status in (401, 403):
            raise FatalStoreError(
                f"Swift refused {method} on {self.url} with {status}: check the "
                f"credentials ({self.settings.source})",
                key=key,
            )
        return response

    def _timed_out(self, cause: BaseException | None, key: str | None) -> RetryableStoreError:
        """A timeout (or a connection lost mid-answer) as a retryable error that says so."""
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            what = f"no connection to {self.url} in {self.timeouts.connect:g} s"
        elif isinstance(cause, requests.exceptions.Timeout) or "timed out" in str(cause):
            what = f"no answer from {self.url} in {self.timeouts.read:g} s"
        else:
            what = f"{self.url}: the answer broke off: {cause}"
        return RetryableStoreError(what, key=key)

    def _unexpected(
        self, response: requests.Response, what: str, key: str | None
    ) -> FatalStoreError:
        detail = response.text[:200].strip()
        return FatalStoreError(
            f"Swift answered {response.status_code} to {what} in {self.url}: {detail}", key=key
        )

    # -- the Store contract -----------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        marker = ""
        while True:
            params = {
                "format": "json", "prefix": self.prefix + prefix, "limit": str(self.page_size)
            }
            if marker:
                params["marker"] = marker
            response = self._send("LIST", "GET", self._path(), params=params)
            if response.status_code == 404:
                raise FatalStoreError(f"Swift container {self.container!r} does not exist")
            if response.status_code not in (200, 204):
                raise self._unexpected(response, "a listing", None)
            entries = response.json() if response.status_code == 200 else []
            for entry in entries:
                name = str(entry["name"])
                yield ObjectInfo(
                    key=name[len(self.prefix) :],
                    size=int(entry["bytes"]),
                    version=str(entry["hash"]),
                )
            if len(entries) < self.page_size:
                return
            marker = str(entries[-1]["name"])

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        path = self._path(key)

        def get() -> Blob:
            response = self._attempt("GET", "GET", path, key, stream=True)
            with response:
                if response.status_code == 404:
                    raise FileNotFoundError(key)
                if response.status_code != 200:
                    raise self._unexpected(response, f"reading {printable(key)}", key)
                declared = response.headers.get("Content-Length")
                chunks = response.iter_content(READ_CHUNK)
                try:
                    data = read_capped(lambda _n: next(chunks, b""), key, max_bytes,
                                       int(declared) if declared and declared.isdigit() else None)
                except requests.exceptions.RequestException as exc:  # cut off mid-body
                    raise self._timed_out(exc, key) from exc
                return Blob(data=data, version=_etag(response))

        return self.pacer.call(get, initial=self.retry_initial_wait)

    def stat(self, key: str) -> ObjectStat:
        response = self._send("HEAD", "HEAD", self._path(key), key=key)
        if response.status_code == 404:
            raise FileNotFoundError(key)
        if response.status_code not in (200, 204):
            raise self._unexpected(response, f"checking {printable(key)}", key)
        metadata = {name[len(_META_PREFIX):]: value for name, value in response.headers.items()
                    if name.lower().startswith(_META_PREFIX)}
        return ObjectStat(key, int(response.headers.get("Content-Length", 0)), _etag(response),
                          decode_metadata(metadata))

    def _head_version(self, key: str) -> str | None:
        response = self._send("HEAD", "HEAD", self._path(key), key=key)
        if response.status_code == 404:
            return None
        if response.status_code not in (200, 204):
            raise self._unexpected(response, f"checking {printable(key)}", key)
        return _etag(response)

    def _check_version(self, key: str, expected: str) -> None:
        """The client-side precondition: narrows the race, the store lock closes it."""
        current = self._head_version(key)
        if current is None:
            raise FileNotFoundError(key)
        if current != expected:
            raise PreconditionFailed(f"{printable(key)} changed in the store", key=key)

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        path = self._path(key)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        # Swift verifies the body against ETag (422 on mismatch): a cheap end-to-end check.
        headers = {"ETag": md5, "Content-Type": CONTENT_TYPE}
        for name, value in check_metadata(metadata).items():
            headers[f"X-Object-Meta-{name}"] = value
        if if_none_match:
            headers["If-None-Match"] = "*"
        if if_match is not None:
            self._check_version(key, if_match)

        def put() -> requests.Response:
            return self._send("PUT", "PUT", path, key=key, data=data, headers=headers)

        response = put()
        if response.status_code == 404:  # the container is missing: kops creates it too
            self._create_container()
            response = put()
        if response.status_code == 412:
            raise ObjectExists(f"{printable(key)} already exists", key=key)
        if response.status_code not in (200, 201):
            raise self._unexpected(response, f"writing {printable(key)}", key)
        if if_none_match and self._head_version(key) != md5:
            # Swift checks If-None-Match before the body arrives, so racing creators can all
            # get 201; the newest timestamp is what stays. Reading back catches most losers.
            raise ObjectExists(f"{printable(key)} was created by someone else meanwhile", key=key)
        return _etag(response) or md5

    def _create_container(self) -> None:
        response = self._send("OTHER", "PUT", self._path(), headers={"Content-Length": "0"})
        if response.status_code not in (201, 202, 204):
            raise self._unexpected(response, f"creating container {self.container!r}", None)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        if if_match is not None:
            self._check_version(key, if_match)
        response = self._send("DELETE", "DELETE", self._path(key), key=key)
        if response.status_code == 404:
            if if_match is not None:
                raise FileNotFoundError(key)  # gone between our HEAD and the DELETE
            return  # Swift says 404 where S3 says 204; the contract wants "not an error"
        if response.status_code not in (200, 204):
            raise self._unexpected(response, f"deleting {printable(key)}", key)

    def close(self) -> None:
        with self._connection_lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _etag(response: requests.Response) -> str:
    """Swift sends the ETag unquoted; strip quotes anyway in case a proxy adds them."""
    return str(response.headers.get("Etag", "")).strip('"')


# -- connecting ---------------------------------------------------------------------------


def connect(settings: SwiftSettings) -> Any:
    """An ``openstack.connection.Connection`` for ``settings`` (no request is sent yet)."""
    kwargs = dict(settings.connect_kwargs)
    config_files = kwargs.pop("config_files", None)
    if config_files is None:
        return openstack.connect(**kwargs)
    from openstack.config.loader import OpenStackConfig

    loader = OpenStackConfig(
        config_files=config_files, load_envvars=False, app_name=kwargs.pop("app_name")
    )
    kwargs.pop("load_envvars")
    return openstack.connection.Connection(config=loader.get_one(**kwargs))
