"""How kops API objects appear as store keys and bytes, for k8s.py (no SDK import).

``<name>/config`` is the ``Cluster`` called ``<name>``, ``<cluster>/instancegroup/<ig>`` an
``InstanceGroup`` in the cluster's namespace (kops' rule: the name with ``.`` -> ``-``). The
bytes of an object are its YAML with keys sorted and without what the server manages, so two
reads at one ``resourceVersion`` give identical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kops_gitsync.errors import FatalStoreError
from kops_gitsync.vfs.keys import check_key, printable

GROUP, VERSION = "kops.k8s.io", "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
SERVER_MANAGED = ("resourceVersion", "uid", "managedFields", "selfLink", "generation",
                  "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "namespace")


@dataclass(frozen=True)
class KopsObject:
    """Where a key lives in the API: kind, plural, namespace and object name."""

    kind: str
    plural: str
    cluster: str
    name: str

    @property
    def namespace(self) -> str:
        return namespace_for(self.cluster)


def namespace_for(cluster: str) -> str:
    """kops' rule (``pkg/client/simple/api``): the cluster name with dots as dashes."""
    return cluster.replace(".", "-")


def object_for_key(key: str) -> KopsObject:
    """The API object behind ``key``, or FatalStoreError for keys k8s:// cannot hold."""
    parts = check_key(key).split("/")
    if len(parts) == 2 and parts[1] == "config":
        return KopsObject("Cluster", "clusters", parts[0], parts[0])
    if len(parts) == 3 and parts[1] == "instancegroup":
        return KopsObject("InstanceGroup", "instancegroups", parts[0], parts[2])
    raise FatalStoreError(
        f"{printable(key)} is not available on k8s://: the kops API holds only "
        "<cluster>/config and <cluster>/instancegroup/<name>; the rest lives in the "
        "cluster's configBase",
        key=key,
    )


def object_bytes(obj: Mapping[str, Any]) -> bytes:
    """The stable YAML form: what the user wrote, without what the server manages."""
    cleaned = dict(obj)
    metadata = {k: v for k, v in dict(cleaned.get("metadata") or {}).items()
                if k not in SERVER_MANAGED}
    cleaned["metadata"] = metadata
    text: str = yaml.safe_dump(
        cleaned, sort_keys=True, default_flow_style=False, allow_unicode=True
    )
    return text.encode("utf-8")


def kubeconfig_path(env: Mapping[str, str]) -> str:
    if env.get("KUBECONFIG"):
        return env["KUBECONFIG"]
    home = env.get("HOME") or str(Path.home())
    return str(Path(home) / ".kube" / "config")
