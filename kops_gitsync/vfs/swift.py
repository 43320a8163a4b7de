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

import configparser
import hashlib
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
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


# -- settings: where the credentials come from ------------------------------------------------

STORAGE_URL_VAR = "KOPS_GITSYNC_SWIFT_STORAGE_URL"  # a pre-authenticated endpoint (tests, tokens)
TOKEN_VAR = "KOPS_GITSYNC_SWIFT_AUTH_TOKEN"


@dataclass(frozen=True)
class SwiftSettings:
    """Keyword arguments for ``openstack.connect`` and a note of where they came from."""

    connect_kwargs: dict[str, Any]
    source: str


def swift_settings(env: Mapping[str, str]) -> SwiftSettings:
    """Resolve credentials the way kops users already provide them, first match wins.

    1. ``KOPS_GITSYNC_SWIFT_STORAGE_URL`` (+ optional ``KOPS_GITSYNC_SWIFT_AUTH_TOKEN``): talk
       to that storage URL directly, without Keystone. A kops-gitsync extension, used by the
       tests against a Swift without auth middleware.
    2. ``OS_*`` variables, when they name an auth URL and a complete credential (kops'
       ``openstackconfig/env.go``).
    3. ``OS_CLOUD``: an entry of clouds.yaml, read by openstacksdk itself.
    4. The INI file ``$OPENSTACK_CREDENTIAL_FILE`` or ``~/.openstack/config`` (kops' fallback).
    """
    common: dict[str, Any] = {"load_envvars": False, "app_name": "kops-gitsync"}
    if env.get("KOPS_OS_TLS_INSECURE_SKIP_VERIFY", "").lower() in ("true", "1"):
        common["verify"] = False
    elif env.get("OS_CACERT"):
        common["cacert"] = env["OS_CACERT"]
    region = env.get("OS_REGION_NAME", "").strip("'")
    if region:
        common["region_name"] = region

    storage_url = env.get(STORAGE_URL_VAR, "").rstrip("/")
    if storage_url:
        token = env.get(TOKEN_VAR, "")
        auth: dict[str, str] = {"endpoint": storage_url}
        if token:
            auth["token"] = token
        return SwiftSettings(
            dict(common, load_yaml_config=False, auth_type="admin_token" if token else "none",
                 auth=auth, object_store_endpoint_override=storage_url),
            f"{STORAGE_URL_VAR}={storage_url}",
        )
    from_env = _auth_from_env(env)
    if from_env is not None:
        auth_type, auth = from_env
        return SwiftSettings(
            dict(common, load_yaml_config=False, auth_type=auth_type, auth=auth),
            "OS_* environment variables",
        )
    if env.get("OS_CLOUD"):
        cloud = env["OS_CLOUD"]
        home = Path(env.get("HOME") or Path.home())
        # openstacksdk fixes its search path at import and reads OS_CLIENT_CONFIG_FILE from
        # the process env; resolve both from ``env`` so the store sees what the caller passed.
        files = [env["OS_CLIENT_CONFIG_FILE"]] if env.get("OS_CLIENT_CONFIG_FILE") else []
        files += [str(d / "clouds.yaml") for d in
                  (Path.cwd(), home / ".config" / "openstack", Path("/etc/openstack"))]
        return SwiftSettings(
            dict(common, cloud=cloud, config_files=files), f"clouds.yaml entry {cloud!r}"
        )
    path = Path(
        env.get("OPENSTACK_CREDENTIAL_FILE")
        or Path(env.get("HOME", str(Path.home()))) / ".openstack" / "config"
    )
    if path.is_file():
        from_file = _settings_from_file(path, region)
        return SwiftSettings(dict(common, load_yaml_config=False, **from_file), str(path))
    raise FatalStoreError(
        "no OpenStack credentials for swift://: set OS_AUTH_URL with OS_USERNAME/OS_PASSWORD "
        "(or an application credential), OS_CLOUD for clouds.yaml, or write "
        f"{path} (OPENSTACK_CREDENTIAL_FILE)"
    )


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


_ENV_AUTH = {  # auth option -> variables, the first one set wins
    "auth_url": ("OS_AUTH_URL",),
    "username": ("OS_USERNAME",),
    "user_id": ("OS_USERID", "OS_USER_ID"),
    "password": ("OS_PASSWORD",),
    "project_id": ("OS_PROJECT_ID", "OS_TENANT_ID"),
    "project_name": ("OS_PROJECT_NAME", "OS_TENANT_NAME"),
    "user_domain_id": ("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
    "user_domain_name": ("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
    "project_domain_id": ("OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"),
    "project_domain_name": ("OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
    "application_credential_id": ("OS_APPLICATION_CREDENTIAL_ID",),
    "application_credential_name": ("OS_APPLICATION_CREDENTIAL_NAME",),
    "application_credential_secret": ("OS_APPLICATION_CREDENTIAL_SECRET",),
    "token": ("OS_TOKEN", "OS_AUTH_TOKEN"),
}


def _auth_from_env(env: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """(auth_type, auth) from ``OS_*``, or None when they do not make a whole credential."""
    auth: dict[str, str] = {}
    for option, names in _ENV_AUTH.items():
        value = next((env[n] for n in names if env.get(n)), None)
        if value is not None:
            auth[option] = value
    if "auth_url" not in auth:
        return None
    if "application_credential_secret" in auth:
        keep = {"auth_url", "application_credential_id", "application_credential_name",
                "application_credential_secret", "username", "user_id", "user_domain_id",
                "user_domain_name"}
        return "v3applicationcredential", {k: v for k, v in auth.items() if k in keep}
    if "password" in auth and ("username" in auth or "user_id" in auth):
        auth.pop("token", None)
        return "password", auth
    if "token" in auth:
        keep = {"auth_url", "token", "project_id", "project_name", "project_domain_id",
                "project_domain_name"}
        return "token", {k: v for k, v in auth.items() if k in keep}
    return None


def _settings_from_file(path: Path, env_region: str) -> dict[str, Any]:
    """kops' INI credential file: [Default] credentials, [Global] region, [Swift] endpoint."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise FatalStoreError(f"cannot parse OpenStack credential file {path}: {exc}") from exc
    sections: dict[str, Mapping[str, str]] = {
        name.lower(): parser[name] for name in parser.sections()
    }
    default = sections.get("default", {})

    def get(section: Mapping[str, str], name: str) -> str:
        return str(section.get(name, "")).strip().strip('"')

    if not get(default, "identity") or not get(default, "password"):
        raise FatalStoreError(f"{path}: section [Default] needs 'identity' and 'password'")
    auth = {
        "auth_url": get(default, "identity"),
        "username": get(default, "user"),
        "user_id": get(default, "user_id"),
        "password": get(default, "password"),
        "project_id": get(default, "tenant_id"),
        "project_name": get(default, "tenant_name"),
        "user_domain_id": get(default, "domain_id"),
        "user_domain_name": get(default, "domain_name"),
        "project_domain_id": get(default, "domain_id"),
        "project_domain_name": get(default, "domain_name"),
    }
    if not auth["username"] and not auth["user_id"]:
        raise FatalStoreError(f"{path}: section [Default] needs 'user' or 'user_id'")
    result: dict[str, Any] = {"auth_type": "password", "auth": {k: v for k, v in auth.items() if v}}
    swift_section = sections.get("swift", {})
    region = env_region or get(swift_section, "region") or get(sections.get("global", {}), "region")
    if region:
        result["region_name"] = region
    if get(swift_section, "service_type"):
        result["object_store_service_type"] = get(swift_section, "service_type")
    if get(swift_section, "service_name"):
        result["object_store_service_name"] = get(swift_section, "service_name")
    if get(swift_section, "availability"):
        result["object_store_interface"] = get(swift_section, "availability")
    return result
