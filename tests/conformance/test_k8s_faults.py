"""k8s:// under faults and limits: timeouts, Retry-After, the read cap, metadata ignored.

Through the failing-proxy double in front of the API server double, with a kubeconfig that
points at the proxy (self-contained: no shared fixtures).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kops_gitsync.errors import ObjectTooLarge
from kops_gitsync.vfs.k8s import KubernetesStore
from tests.doubles.failing_proxy_double import FailingProxyDouble
from tests.doubles.kube_apiserver_double import KubeApiServerDouble
from tests.servers.k8s import write_kubeconfig

CLUSTER = "faults.example.com"
KEY = f"{CLUSTER}/config"


def cluster_yaml(padding: int = 0) -> bytes:
    doc = {"apiVersion": "kops.k8s.io/v1alpha2", "kind": "Cluster",
           "metadata": {"name": CLUSTER},
           "spec": {"kubernetesVersion": "1.30.0", "additionalPolicies": {"node": "x" * padding}}}
    return yaml.safe_dump(doc).encode()


@pytest.fixture
def proxied(
    kube_api: KubeApiServerDouble, tmp_path: Path
) -> Iterator[Callable[..., tuple[KubernetesStore, FailingProxyDouble]]]:
    kube_api.reset()
    made: list[tuple[KubernetesStore, FailingProxyDouble]] = []

    def make(failures: int = 0, **options: Any) -> tuple[KubernetesStore, FailingProxyDouble]:
        proxy = FailingProxyDouble(kube_api.url, failures, **options).start()
        kubeconfig = write_kubeconfig(tmp_path / f"kubeconfig-{len(made)}", proxy.url)
        store = KubernetesStore.from_url(
            "k8s://double", {"KUBECONFIG": str(kubeconfig), "KOPS_GITSYNC_STORE_TIMEOUT": "1"})
        store.retry_initial_wait = 0.01
        made.append((store, proxy))
        return store, proxy

    yield make
    for store, proxy in made:
        store.close()
        proxy.stop()


def test_a_hung_api_server_is_retried_and_said_so(
    proxied: Callable[..., tuple[KubernetesStore, FailingProxyDouble]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, proxy = proxied(0, hang=60)
    version = store.write(KEY, cluster_yaml(), if_none_match=True)
    proxy.failures_left = 1
    capsys.readouterr()
    started = time.monotonic()
    assert store.read(KEY).version == version
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err
    assert err.startswith("k8s://double: no answer from") and "in 1 s" in err, err
    assert "retrying (2/5)" in err


def test_retry_after_is_honoured(
    proxied: Callable[..., tuple[KubernetesStore, FailingProxyDouble]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, proxy = proxied(0, retry_after="2")
    store.write(KEY, cluster_yaml(), if_none_match=True)
    proxy.failures_left = 1
    started = time.monotonic()
    store.read(KEY)
    assert time.monotonic() - started >= 1.8
    assert "as asked (2/5)" in capsys.readouterr().err


def test_read_cap(proxied: Callable[..., tuple[KubernetesStore, FailingProxyDouble]]) -> None:
    store, _proxy = proxied(0, drop_length=True)
    store.write(KEY, cluster_yaml(padding=300_000), if_none_match=True)
    with pytest.raises(ObjectTooLarge):
        store.read(KEY, max_bytes=100_000)
    assert len(store.read(KEY, max_bytes=1_000_000).data) > 300_000


def test_metadata_is_accepted_and_ignored(
    proxied: Callable[..., tuple[KubernetesStore, FailingProxyDouble]],
) -> None:
    store, _proxy = proxied()
    assert not store.capabilities.write_metadata
    version = store.write(KEY, cluster_yaml(), metadata={"kops-gitsync-commit": "abc"})
    found = store.stat(KEY)
    assert (found.version, dict(found.metadata)) == (version, {})
    assert found.size == len(store.read(KEY).data)
