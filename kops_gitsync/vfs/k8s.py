"""``k8s://[context]`` stores: the kops API served by a Kubernetes API server.

In kops, a ``k8s://`` state is not a file store: ``Factory.KopsClient`` keeps ``Cluster`` and
``InstanceGroup`` objects (``kops.k8s.io/v1alpha2`` custom resources) in the cluster that the
kubeconfig context (the URL host, or the current context) points at, one namespace per
cluster, named after it with ``.`` -> ``-``. This backend shows those objects as the keys a
file store would hold them under:

* ``Cluster`` ``<name>``            -> ``<name>/config``
* ``InstanceGroup`` ``<ig>``         -> ``<cluster>/instancegroup/<ig>``
* the push lock ``.kops-gitsync.lock`` -> ConfigMap ``kops-gitsync-lock`` (namespace
  ``KOPS_GITSYNC_K8S_LOCK_NAMESPACE``, default ``default``), so push can lock here too.

Every other key (pki, secrets, addons, ...) is refused: kops keeps those in
``spec.configBase``, a real file store, which can be mirrored on its own.

The bytes of an object are its YAML (keys sorted) without the metadata the server manages
(``resourceVersion``, ``uid``, ``managedFields``, ``generation``, timestamps, namespace), so
two reads at one ``resourceVersion`` give identical bytes. version = ``resourceVersion``,
and the API server enforces it on replace and delete (409), so all three preconditions are
server-side compare-and-swap.

Every request has connect and read timeouts (``KOPS_GITSYNC_STORE_TIMEOUT``, default 10 s;
the kubernetes client sets none) and goes through the store's pacer, which honours
``Retry-After`` (the API server sends it with 429). Reads stream the JSON and stop at
``max_bytes``. Kubernetes objects have no user metadata or content type to set:
``write_metadata`` is False and ``metadata`` is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kops_gitsync.errors import (
    FatalStoreError,
    ObjectExists,
    ObjectTooLarge,
    PreconditionFailed,
    RetryableStoreError,
    RetryLater,
)
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs import pacer
from kops_gitsync.vfs.base import (
    Blob,
    Capabilities,
    ObjectInfo,
    ObjectStat,
    RequestCounts,
    check_metadata,
    read_capped,
)
from kops_gitsync.vfs.k8s_lock import LockConfigMap
from kops_gitsync.vfs.k8s_mapping import (
    API_VERSION,
    GROUP,
    SERVER_MANAGED,
    VERSION,
    KopsObject,
    kubeconfig_path,
    namespace_for,
    object_bytes,
    object_for_key,
)
from kops_gitsync.vfs.keys import escape_controls, printable

__all__ = ["API_VERSION", "KopsObject", "KubernetesStore", "namespace_for", "object_bytes",
           "object_for_key"]

LOCK_NAMESPACE_VAR = "KOPS_GITSYNC_K8S_LOCK_NAMESPACE"
LIST_PAGE_SIZE = 500
T = TypeVar("T")


def server_message(body: object, limit: int = 400) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, on one line and capped, or ""."""
    try:
        status = json.loads(body) if isinstance(body, (str, bytes)) else body
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    if not isinstance(message, str):
        return ""
    flat = " ".join(escape_controls(message).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class KubernetesStore:
    capabilities = Capabilities(
        conditional_create=True, conditional_replace=True, conditional_delete=True
    )

    def __init__(
        self, url: str, api_client: Any, lock_namespace: str,
        timeouts: pacer.Timeouts | None = None,
    ) -> None:
        self.url = url
        self.lock_namespace = lock_namespace
        self.request_counts = RequestCounts()
        self.retry_initial_wait = pacer.INITIAL_WAIT
        self.timeouts = timeouts or pacer.timeouts({})
        self.pacer = pacer.Pacer(url)
        self._api_client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._lock = LockConfigMap(self._core, lock_namespace, self._api, self._fatal)

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> KubernetesStore:
        rest = url.split("://", 1)[1] if "://" in url else ""  # k8s:/ and k8s: are bare too
        context, _, path = rest.partition("/")
        if path.strip("/"):
            raise FatalStoreError(f"{url!r}: k8s:// takes a kubeconfig context only, no path")
        kubeconfig = kubeconfig_path(env)
        settings = client.Configuration()
        settings.retries = False  # the pacer retries; urllib3's own loop would hide a dead server
        try:
            new_client: Any = config.new_client_from_config  # untyped in kubernetes 37
            api_client = new_client(
                config_file=kubeconfig, context=context or None, persist_config=False,
                client_configuration=settings,
            )
        except (config.ConfigException, OSError, ValueError) as exc:
            which = f"context {context!r}" if context else "the current context"
            raise FatalStoreError(
                f"cannot use {which} of kubeconfig {kubeconfig} for {url}: {exc}"
            ) from exc
        return cls(url, api_client, env.get(LOCK_NAMESPACE_VAR) or "default", pacer.timeouts(env))

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, kind: str, fn: Callable[[], T], key: str | None = None) -> T:
        def attempt() -> T:
            self.request_counts.add(kind)
            try:
                return fn()
            except ApiException as exc:
                status = int(exc.status or 0)
                if status == 429 or status >= 500:
                    message = f"API server answered {status} for {self.url}"
                    wait = pacer.retry_after_seconds((exc.headers or {}).get("Retry-After"))
                    if wait is not None:
                        raise RetryLater(message, retry_after=wait, key=key) from exc
                    raise RetryableStoreError(message, key=key) from exc
                if status in (401, 403):
                    raise FatalStoreError(
                        f"the API server refused the credentials of {self.url} ({status} "
                        f"{exc.reason}): check the kubeconfig context",
                        key=key,
                    ) from exc
                raise
            except urllib3.exceptions.HTTPError as exc:
                raise self._unreachable(exc, key) from exc

        return self.pacer.call(attempt, initial=self.retry_initial_wait)

    def _unreachable(self, exc: Exception, key: str | None) -> RetryableStoreError:
        server = self._api_client.configuration.host
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
            what = f"no connection to {server} in {self.timeouts.connect:g} s"
        elif isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in str(exc):
            what = f"no answer from {server} in {self.timeouts.read:g} s"
        else:
            what = f"cannot reach the API server {server}: {exc}"
        return RetryableStoreError(what, key=key)

    def _api(self, kind: str, key: str | None, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` as one counted, paced request with timeouts."""
        return self._call(
            kind, lambda: fn(*args, _request_timeout=self.timeouts.pair, **kw), key)

    def _fatal(self, exc: ApiException, what: str, key: str | None) -> FatalStoreError:
        """One line with the server's own explanation (which field, which rule): a 422 says
        little without it."""
        reason = server_message(exc.body)
        return FatalStoreError(
            f"the API server answered {exc.status} {exc.reason} to {what} on {self.url}"
            + (f": {reason}" if reason else ""),
            key=key,
        )

    def _list_all(self, plural: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            page: Any  # a decoded JSON object (typed ``object`` by the client)
            if namespace is None:
                page = self._api("LIST", None, self._custom.list_cluster_custom_object,
                                 GROUP, VERSION, plural, **kwargs)
            else:
                page = self._api("LIST", None, self._custom.list_namespaced_custom_object,
                                 GROUP, VERSION, namespace, plural, **kwargs)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    # -- the Store contract -----------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # A prefix inside one cluster lists only its namespace; otherwise every namespace.
        cluster = prefix.split("/", 1)[0] if "/" in prefix else None
        namespace = namespace_for(cluster) if cluster else None
        try:
            clusters = list(self._list_all("clusters", namespace))
            groups = list(self._list_all("instancegroups", namespace))
        except ApiException as exc:
            if exc.status == 404:
                raise FatalStoreError(
                    f"the API server of {self.url} does not serve {API_VERSION}: "
                    "install the kops CRDs (k8s/crds in the kops repository)"
                ) from exc
            raise self._fatal(exc, "a listing", None) from exc
        by_namespace: dict[str, str] = {}
        for obj in clusters:
            meta = obj.get("metadata") or {}
            name, found_in = str(meta.get("name", "")), meta.get("namespace")
            if name and found_in == namespace_for(name):  # elsewhere, kops cannot find it
                by_namespace[found_in] = name
                yield from self._info(f"{name}/config", obj, prefix)
        for obj in groups:
            meta = obj.get("metadata") or {}
            owner = by_namespace.get(str(meta.get("namespace")))
            if owner is not None:
                yield from self._info(f"{owner}/instancegroup/{meta.get('name')}", obj, prefix)

    @staticmethod
    def _info(key: str, obj: Mapping[str, Any], prefix: str) -> Iterator[ObjectInfo]:
        if key.startswith(prefix):
            version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            yield ObjectInfo(key=key, size=len(object_bytes(obj)), version=version)

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        if key == LOCK_KEY:
            return self._lock.read()
        where = object_for_key(key)

        def get() -> dict[str, Any]:
            answer: Any = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, where.namespace, where.plural, where.name,
                _preload_content=False, _request_timeout=self.timeouts.pair)
            try:
                declared = answer.headers.get("Content-Length")
                raw = read_capped(answer.read, key, max_bytes,
                                  int(declared) if declared and declared.isdigit() else None)
            finally:
                answer.release_conn()
            found: dict[str, Any] = json.loads(raw)
            return found

        try:
            obj = self._call("GET", get, key)
        except ApiException as exc:
            if exc.status == 404:
                raise FileNotFoundError(key) from None
            raise self._fatal(exc, f"reading {printable(key)}", key) from exc
        data = object_bytes(obj)
        if max_bytes is not None and len(data) > max_bytes:
            raise ObjectTooLarge(key, len(data), max_bytes)
        return Blob(data=data, version=str(obj["metadata"]["resourceVersion"]))

    def stat(self, key: str) -> ObjectStat:
        """The object read in full (the API has no HEAD); no user metadata."""
        blob = self.read(key)
        return ObjectStat(key, len(blob.data), blob.version)

    def _body(self, key: str, where: KopsObject, data: bytes) -> dict[str, Any]:
        """Parse and check what is being written: it must be the object the key names."""
        try:
            body = yaml.safe_load(data.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FatalStoreError(f"{printable(key)} is not valid YAML: {exc}", key=key) from exc
        if not isinstance(body, dict):
            raise FatalStoreError(f"{printable(key)} is not a YAML mapping", key=key)
        found_meta = body.get("metadata")
        metadata: dict[str, Any] = found_meta if isinstance(found_meta, dict) else {}
        found = (body.get("apiVersion"), body.get("kind"), metadata.get("name"))
        if found != (API_VERSION, where.kind, where.name):
            raise FatalStoreError(
                f"{printable(key)} must hold apiVersion {API_VERSION}, kind {where.kind}, "
                f"metadata.name {where.name}; found {found[0]}, {found[1]}, {found[2]}",
                key=key,
            )
        metadata = {k: v for k, v in metadata.items() if k not in SERVER_MANAGED}
        metadata["namespace"] = where.namespace
        return {**body, "metadata": metadata}

    def write(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        check_metadata(metadata)  # checked like everywhere; the API has nowhere to keep it
        if key == LOCK_KEY:
            return self._lock.write(data, if_match=if_match, if_none_match=if_none_match)
        where = object_for_key(key)
        body = self._body(key, where, data)
        if if_none_match:
            return self._create(key, where, body)
        if if_match is not None:
            return self._replace(key, where, body, if_match)
        for _attempt in range(5):  # a blind write: last writer wins, as in kops
            try:
                current = self.read(key)
            except FileNotFoundError:
                try:
                    return self._create(key, where, body)
                except ObjectExists:
                    continue
            try:
                return self._replace(key, where, body, current.version)
            except (PreconditionFailed, FileNotFoundError):
                continue
        raise RetryableStoreError(f"{printable(key)} kept changing while being written", key=key)

    def _create(self, key: str, where: KopsObject, body: dict[str, Any]) -> str:
        def post() -> Any:
            return self._api(
                "PUT", key, self._custom.create_namespaced_custom_object,
                GROUP, VERSION, where.namespace, where.plural, body,
            )

        try:
            try:
                created = post()
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self._ensure_namespace(where.namespace)  # a new cluster: kops' namespace rule
                created = post()
        except ApiException as exc:
            if exc.status == 409:
                raise ObjectExists(f"{printable(key)} already exists", key=key) from None
            raise self._fatal(exc, f"creating {printable(key)}", key) from exc
        return str(created["metadata"]["resourceVersion"])

    def _replace(self, key: str, where: KopsObject, body: dict[str, Any], version: str) -> str:
        body = {**body, "metadata": {**body["metadata"], "resourceVersion": version}}
        try:
            replaced: Any = self._api("PUT", key, self._custom.replace_namespaced_custom_object,
                                 GROUP, VERSION, where.namespace, where.plural, where.name, body)
        except ApiException as exc:
            if exc.status == 404:
                raise FileNotFoundError(key) from None
            if exc.status == 409:
                raise PreconditionFailed(f"{printable(key)} changed", key=key) from None
            raise self._fatal(exc, f"replacing {printable(key)}", key) from exc
        return str(replaced["metadata"]["resourceVersion"])

    def _ensure_namespace(self, namespace: str) -> None:
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        try:
            self._api("OTHER", None, self._core.create_namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        if key == LOCK_KEY:
            return self._lock.delete(if_match)
        where = object_for_key(key)
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=if_match) if if_match else None
        )
        try:
            self._api("DELETE", key, self._custom.delete_namespaced_custom_object,
                      GROUP, VERSION, where.namespace, where.plural, where.name, body=options)
        except ApiException as exc:
            if exc.status == 404:
                if if_match is not None:
                    raise FileNotFoundError(key) from None
                return
            if exc.status == 409:
                raise PreconditionFailed(f"{printable(key)} changed", key=key) from None
            raise self._fatal(exc, f"deleting {printable(key)}", key) from exc

    def close(self) -> None:
        self._api_client.close()
