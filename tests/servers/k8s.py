"""k8s:// over the Kubernetes API server double, reached through a real kubeconfig file.

k8s:// holds only kops API objects (``<cluster>/config``, ``<cluster>/instancegroup/<ig>``),
not arbitrary keys, so it is not in ``STORE_FACTORIES``: its own contract is
``tests/conformance/test_k8s_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.doubles.kube_apiserver_double import KubeApiServerDouble

if TYPE_CHECKING:  # the kubernetes SDK is imported only by the tests that use it
    from kops_gitsync.vfs.k8s import KubernetesStore

STORE_FACTORIES: list[str] = []

TOKEN = "kops-gitsync-test-token"
CONTEXT = "double"


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeApiServerDouble]:
    with KubeApiServerDouble(TOKEN) as api:
        yield api


def write_kubeconfig(path: Path, server: str, *, token: str = TOKEN) -> Path:
    """A kubeconfig with three contexts: ``double`` (current), ``other`` and ``wrong-token``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CONTEXT,
        "clusters": [{"name": "double", "cluster": {"server": server}}],
        "users": [
            {"name": "tester", "user": {"token": token}},
            {"name": "intruder", "user": {"token": "not-the-token"}},
        ],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": "double", "user": "tester"}},
            {"name": "other", "context": {"cluster": "double", "user": "tester"}},
            {"name": "wrong-token", "context": {"cluster": "double", "user": "intruder"}},
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def k8s_env(kube_api: KubeApiServerDouble, tmp_path: Path) -> dict[str, str]:
    """A fresh, empty API server and the environment that points kubeconfig at it."""
    kube_api.reset()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", kube_api.url)
    return {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}


@pytest.fixture
def k8s_store(k8s_env: dict[str, str]) -> Iterator[KubernetesStore]:
    from kops_gitsync.vfs.k8s import KubernetesStore

    store = KubernetesStore.from_url(f"k8s://{CONTEXT}", k8s_env)
    yield store
    store.close()
