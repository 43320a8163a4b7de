"""k8s:// over the Kubernetes API server double and a real kube-apiserver, each reached
through a real kubeconfig file.

``k8s_env`` (and so ``k8s_store``) is parametrised: ``double`` is the HTTP double
(tests/doubles/kube_apiserver_double.py), ``real`` the kube-apiserver of
tests/servers/kube_apiserver.py (skipped with a one-line reason when it is not built). What the
real server enforces, the double must learn; ``k8s_double`` is the double when the test runs
against it (for its request log), else None.

k8s:// holds only kops API objects (``<cluster>/config``, ``<cluster>/instancegroup/<ig>``),
not arbitrary keys, so it is not in ``STORE_FACTORIES``: its own contract is
``tests/conformance/test_k8s_contract.py``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.doubles.kube_apiserver_double import KubeApiServerDouble
from tests.servers.kube_apiserver import CRD_PATH, RealKubeApiServer, kops_crds

if TYPE_CHECKING:  # the kubernetes SDK is imported only by the tests that use it
    from kops_gitsync.vfs.k8s import KubernetesStore

STORE_FACTORIES: list[str] = []

TOKEN = "kops-gitsync-test-token"
CONTEXT = "double"


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeApiServerDouble]:
    """The double, with the kops CRDs installed through its API (it serves kops.k8s.io only
    then, as a real server does)."""
    with KubeApiServerDouble(TOKEN) as api:
        for crd in kops_crds():
            request = urllib.request.Request(
                api.url + CRD_PATH, data=json.dumps(crd).encode(), method="POST",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=10).close()
        yield api


def write_kubeconfig(
    path: Path, server: str, *, token: str = TOKEN, ca_file: Path | None = None
) -> Path:
    """A kubeconfig with three contexts: ``double`` (current), ``other`` and ``wrong-token``
    (the context is called ``double`` on the real server too: tests name it in URLs)."""
    cluster: dict[str, str] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CONTEXT,
        "clusters": [{"name": "double", "cluster": cluster}],
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


@pytest.fixture(params=["double", "real"])
def k8s_server(request: pytest.FixtureRequest) -> KubeApiServerDouble | RealKubeApiServer:
    """The double or the real server, emptied of kops objects and locks."""
    server: KubeApiServerDouble | RealKubeApiServer = request.getfixturevalue(
        "kube_api" if request.param == "double" else "real_kube_api")
    server.reset()
    return server


@pytest.fixture
def k8s_double(
    k8s_server: KubeApiServerDouble | RealKubeApiServer,
) -> KubeApiServerDouble | None:
    return k8s_server if isinstance(k8s_server, KubeApiServerDouble) else None


@pytest.fixture
def k8s_env(
    k8s_server: KubeApiServerDouble | RealKubeApiServer, tmp_path: Path
) -> dict[str, str]:
    """A fresh, empty API server and the environment that points kubeconfig at it."""
    ca_file = k8s_server.ca_file if isinstance(k8s_server, RealKubeApiServer) else None
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", k8s_server.url, ca_file=ca_file)
    return {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}


@pytest.fixture
def k8s_store(k8s_env: dict[str, str]) -> Iterator[KubernetesStore]:
    from kops_gitsync.vfs.k8s import KubernetesStore

    store = KubernetesStore.from_url(f"k8s://{CONTEXT}", k8s_env)
    yield store
    store.close()
