"""The push lock on k8s://: a ConfigMap, because the kops API has no place for it.

``.kops-gitsync.lock`` is ConfigMap ``kops-gitsync-lock`` in ``KOPS_GITSYNC_K8S_LOCK_NAMESPACE``
(default ``default``); its ``resourceVersion`` is the version token, so create, replace and
delete of the lock are compare-and-swap on the API server like every other object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kops_gitsync.errors import FatalStoreError, ObjectExists, PreconditionFailed
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.base import Blob

LOCK_CONFIGMAP = "kops-gitsync-lock"


class LockConfigMap:
    """Reads and writes the lock through the store's paced, counted ``api`` calls."""

    def __init__(
        self, core: Any, namespace: str, api: Callable[..., Any],
        fatal: Callable[[ApiException, str, str | None], FatalStoreError],
    ) -> None:
        self._core = core
        self.namespace = namespace
        self._api = api
        self._fatal = fatal

    def read(self) -> Blob:
        try:
            found = self._api("GET", LOCK_KEY, self._core.read_namespaced_config_map,
                              LOCK_CONFIGMAP, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise FileNotFoundError(LOCK_KEY) from None
            raise self._fatal(exc, "reading the lock", LOCK_KEY) from exc
        text = (found.data or {}).get("lock", "")
        return Blob(data=text.encode("utf-8"), version=str(found.metadata.resource_version))

    def write(self, data: bytes, *, if_match: str | None, if_none_match: bool) -> str:
        """Create, replace-if-version, or (blind) replace whatever is there."""
        if if_match is None and not if_none_match:
            try:
                return self.write(data, if_match=None, if_none_match=True)
            except ObjectExists:
                if_match = self.read().version
        meta = client.V1ObjectMeta(name=LOCK_CONFIGMAP, resource_version=if_match)
        body = client.V1ConfigMap(api_version="v1", kind="ConfigMap", metadata=meta,
                                  data={"lock": data.decode("utf-8")})
        try:
            if if_match is None:
                result = self._api("PUT", LOCK_KEY, self._core.create_namespaced_config_map,
                                   self.namespace, body)
            else:
                result = self._api("PUT", LOCK_KEY, self._core.replace_namespaced_config_map,
                                   LOCK_CONFIGMAP, self.namespace, body)
        except ApiException as exc:
            if exc.status == 409 and if_match is None:
                raise ObjectExists("the lock is held", key=LOCK_KEY) from None
            if exc.status == 409:
                raise PreconditionFailed("the lock changed hands", key=LOCK_KEY) from None
            if exc.status == 404:
                raise FileNotFoundError(LOCK_KEY) from None
            raise self._fatal(exc, "writing the lock", LOCK_KEY) from exc
        return str(result.metadata.resource_version)

    def delete(self, if_match: str | None) -> None:
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=if_match) if if_match else None
        )
        try:
            self._api("DELETE", LOCK_KEY, self._core.delete_namespaced_config_map,
                      LOCK_CONFIGMAP, self.namespace, body=options)
        except ApiException as exc:
            if exc.status == 404 and if_match is None:
                return
            if exc.status == 404:
                raise FileNotFoundError(LOCK_KEY) from None
            if exc.status == 409:
                raise PreconditionFailed("the lock changed hands", key=LOCK_KEY) from None
            raise self._fatal(exc, "deleting the lock", LOCK_KEY) from exc
