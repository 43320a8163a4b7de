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
)
from kops_gitsync.vfs import pacer
from kops_gitsync.vfs.base import Blob, Capabilities, ObjectInfo, RequestCounts
from kops_gitsync.vfs.keys import check_key, printable
from kops_gitsync.vfs.swift_settings import SwiftSettings, swift_settings

__all__ = ["SwiftSettings", "SwiftStore", "connect", "swift_settings"]

LIST_PAGE_SIZE = 1000  # under any sane container_listing_limit (default 10000; more gives 412)
# openstacksdk warns about its own deprecations (InfluxDB metrics, ...) on every connection:
# nothing a kops-gitsync user can act on, so they stay out of the command's output.
warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"openstack\.")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"openstack\.")

_RETRYABLE_STATUS = {408, 429, 498, 500, 502, 503, 504}


class SwiftStore:
    # conditional_create is False although Swift honours If-None-Match: it checks before the
    # body arrives, and 8 racing creators on a real Swift 2.38 got several 201s. See write().
    capabilities = Capabilities(
        conditional_create=False, conditional_replace=False, conditional_delete=False
    )

    def __init__(
        self, url: str, container: str, prefix: str, settings: SwiftSettings
    ) -> None:
        self.url = url
        self.container = container
        self.prefix = prefix
        self.settings = settings
        self.page_size = LIST_PAGE_SIZE
        self.retry_initial_wait = pacer.INITIAL_WAIT  # tests shorten the back-off
        self.request_counts = RequestCounts()
        self._connection: Any = None
        self._connection_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> SwiftStore:
        rest = url[len("swift://") :] if url.startswith("swift://") else ""
        container, _, prefix = rest.partition("/")
        if not container:
            raise FatalStoreError(f"{url!r} names no container: use swift://CONTAINER[/PATH]")
        prefix = prefix.strip("/")
        return cls(url, container, f"{prefix}/" if prefix else "", swift_settings(env))

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
        """One request, retried by the pacer on throttling, 5xx and dropped connections."""

        def attempt() -> requests.Response:
            self._count(kind)
            try:
                response: requests.Response = self._object_store().request(
                    path, method, raise_exc=False, **kwargs
                )
            except ks_exceptions.Unauthorized as exc:
                raise FatalStoreError(
                    f"OpenStack refused the credentials ({self.settings.source}): {exc}", key=key
                ) from exc
            except (ks_exceptions.ConnectionError, ks_exceptions.RetriableConnectionFailure) as exc:
                raise RetryableStoreError(f"{self.url}: {exc}", key=key) from exc
            except (ks_exceptions.ClientException, openstack.exceptions.SDKException) as exc:
                raise FatalStoreError(f"{self.url}: {exc}", key=key) from exc
            status = response.status_code
            if status in _RETRYABLE_STATUS:
                raise RetryableStoreError(
                    f"Swift answered {status} for {method} {path}", key=key
                )
            if status in (401, 403):
                raise FatalStoreError(
                    f"Swift refused {method} on {self.url} with {status}: check the "
                    f"credentials ({self.settings.source})",
                    key=key,
                )
            return response

        return pacer.call(attempt, initial=self.retry_initial_wait)

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

    def read(self, key: str) -> Blob:
        response = self._send("GET", "GET", self._path(key), key=key)
        if response.status_code == 404:
            raise FileNotFoundError(key)
        if response.status_code != 200:
            raise self._unexpected(response, f"reading {printable(key)}", key)
        return Blob(data=response.content, version=_etag(response))

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
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        path = self._path(key)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        # Swift verifies the body against ETag (422 on mismatch): a cheap end-to-end check.
        headers = {"ETag": md5, "Content-Type": "application/octet-stream"}
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
