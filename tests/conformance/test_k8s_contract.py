"""The store contract for k8s://, which holds kops API objects rather than arbitrary keys.

Runs against the Kubernetes API server double (``tests/doubles/kube_apiserver_double.py``)
through a real kubeconfig and the ``kubernetes`` client; objects seeded "by kops" go in with
that client directly, never through the backend under test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from kops_gitsync.errors import (
    FatalError,
    FatalStoreError,
    InvalidKey,
    ObjectExists,
    PreconditionFailed,
    RetryableStoreError,
)
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.k8s import KubernetesStore
from tests.conftest import FIXTURE_STORES
from tests.doubles.failing_proxy_double import FailingProxyDouble
from tests.doubles.kube_apiserver_double import KubeApiServerDouble
from tests.servers.k8s import write_kubeconfig

CLUSTER = "minimal-aws.example.com"
FIXTURE = FIXTURE_STORES / "minimal-aws" / CLUSTER


def cluster_yaml(name: str = CLUSTER, version: str = "1.30.0") -> bytes:
    doc = yaml.safe_load((FIXTURE / "config").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["kubernetesVersion"] = version
    return yaml.safe_dump(doc).encode()


def ig_yaml(name: str = "nodes-us-test-1a", max_size: int = 2) -> bytes:
    doc = yaml.safe_load((FIXTURE / "instancegroup" / "nodes").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["maxSize"] = max_size
    return yaml.safe_dump(doc).encode()


def listing(store: Store, prefix: str = "") -> dict[str, tuple[int, str]]:
    return {o.key: (o.size, o.version) for o in store.list(prefix)}


@pytest.fixture
def kops_client(k8s_env: dict[str, str]) -> Iterator[Any]:
    """The kubernetes client itself, as kops would use it: to seed and to check."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=k8s_env["KUBECONFIG"])
    yield client
    api_client.close()


def seed(env: dict[str, str], plural: str, namespace: str, body: dict[str, Any]) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=env["KUBECONFIG"])
    try:
        core = client.CoreV1Api(api_client)
        try:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        except client.ApiException as exc:
            assert exc.status == 409
        client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            "kops.k8s.io", "v1alpha2", namespace, plural, body
        )
    finally:
        api_client.close()


def fetch(env: dict[str, str], plural: str, namespace: str, name: str) -> dict[str, Any]:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=env["KUBECONFIG"])
    try:
        found: dict[str, Any] = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "kops.k8s.io", "v1alpha2", namespace, plural, name
        )
        return found
    finally:
        api_client.close()


def lock_config_maps(env: dict[str, str]) -> list[str]:
    """``namespace/name`` of every lock ConfigMap on the server."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=env["KUBECONFIG"])
    try:
        found = client.CoreV1Api(api_client).list_config_map_for_all_namespaces()
        return [f"{cm.metadata.namespace}/{cm.metadata.name}" for cm in found.items
                if cm.metadata.name == "kops-gitsync-lock"]
    finally:
        api_client.close()


def test_empty_api_lists_nothing(k8s_store: Store) -> None:
    assert listing(k8s_store) == {}


def test_objects_written_by_kops_map_to_store_keys(
    k8s_store: Store, k8s_env: dict[str, str]
) -> None:
    seed(k8s_env, "clusters", "minimal-aws-example-com", yaml.safe_load(cluster_yaml()))
    seed(k8s_env, "instancegroups", "minimal-aws-example-com", yaml.safe_load(ig_yaml()))
    stray = yaml.safe_load(cluster_yaml("stray.example.com"))
    seed(k8s_env, "clusters", "not-its-namespace", stray)  # kops would never find it
    found = listing(k8s_store)
    assert set(found) == {f"{CLUSTER}/config", f"{CLUSTER}/instancegroup/nodes-us-test-1a"}
    assert set(listing(k8s_store, f"{CLUSTER}/instancegroup/")) == {
        f"{CLUSTER}/instancegroup/nodes-us-test-1a"
    }
    for key, (size, version) in found.items():
        blob = k8s_store.read(key)
        assert (len(blob.data), blob.version) == (size, version)


def test_listing_follows_continue_tokens(
    k8s_store: KubernetesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kops_gitsync.vfs.k8s as k8s_backend

    k8s_store.write(f"{CLUSTER}/config", cluster_yaml())
    groups = [f"{CLUSTER}/instancegroup/ig-{n}" for n in range(5)]
    for key in groups:
        k8s_store.write(key, ig_yaml(key.rsplit("/", 1)[1]))
    monkeypatch.setattr(k8s_backend, "LIST_PAGE_SIZE", 2)
    before = k8s_store.request_counts["LIST"]
    assert sorted(listing(k8s_store)) == sorted([f"{CLUSTER}/config", *groups])
    assert k8s_store.request_counts["LIST"] - before == 1 + 3  # clusters, then 2+2+1 groups


def test_read_gives_stable_bytes_without_server_metadata(
    k8s_store: Store, k8s_env: dict[str, str]
) -> None:
    seed(k8s_env, "clusters", "minimal-aws-example-com", yaml.safe_load(cluster_yaml()))
    first, second = k8s_store.read(f"{CLUSTER}/config"), k8s_store.read(f"{CLUSTER}/config")
    assert first == second
    metadata = yaml.safe_load(first.data)["metadata"]
    assert set(metadata) <= {"name", "labels", "annotations"}
    server_side = fetch(k8s_env, "clusters", "minimal-aws-example-com", CLUSTER)["metadata"]
    assert first.version == server_side["resourceVersion"]
    assert {"uid", "managedFields", "generation"} <= set(server_side)


def test_create_in_a_new_namespace_then_refuse_a_second_create(
    k8s_store: Store, k8s_env: dict[str, str]
) -> None:
    version = k8s_store.write(f"{CLUSTER}/config", cluster_yaml(), if_none_match=True)
    stored = fetch(k8s_env, "clusters", "minimal-aws-example-com", CLUSTER)
    assert stored["metadata"]["resourceVersion"] == version
    assert stored["spec"]["kubernetesVersion"] == "1.30.0"
    with pytest.raises(ObjectExists):
        k8s_store.write(f"{CLUSTER}/config", cluster_yaml(version="9.9.9"), if_none_match=True)
    assert k8s_store.read(f"{CLUSTER}/config").version == version


def test_replace_sends_the_observed_resource_version(k8s_store: Store) -> None:
    key = f"{CLUSTER}/instancegroup/nodes"
    v1 = k8s_store.write(key, ig_yaml("nodes", 2), if_none_match=True)
    v2 = k8s_store.write(key, ig_yaml("nodes", 5), if_match=v1)
    assert v2 != v1
    with pytest.raises(PreconditionFailed):
        k8s_store.write(key, ig_yaml("nodes", 9), if_match=v1)
    blob = k8s_store.read(key)
    assert (blob.version, yaml.safe_load(blob.data)["spec"]["maxSize"]) == (v2, 5)
    with pytest.raises(FileNotFoundError):
        k8s_store.write(f"{CLUSTER}/instancegroup/gone", ig_yaml("gone"), if_match=v2)


def test_write_without_precondition_creates_or_replaces(k8s_store: Store) -> None:
    key = f"{CLUSTER}/config"
    first = k8s_store.write(key, cluster_yaml(version="1.30.0"))
    second = k8s_store.write(key, cluster_yaml(version="1.31.0"))
    assert first != second
    assert yaml.safe_load(k8s_store.read(key).data)["spec"]["kubernetesVersion"] == "1.31.0"


def test_delete_with_and_without_resource_version(k8s_store: Store) -> None:
    key = f"{CLUSTER}/instancegroup/nodes"
    v1 = k8s_store.write(key, ig_yaml("nodes", 2))
    k8s_store.write(key, ig_yaml("nodes", 3))
    with pytest.raises(PreconditionFailed):
        k8s_store.delete(key, if_match=v1)
    k8s_store.delete(key, if_match=k8s_store.read(key).version)
    assert listing(k8s_store) == {}
    with pytest.raises(FileNotFoundError):
        k8s_store.delete(key, if_match=v1)
    k8s_store.delete(key)  # a missing object is not an error without a precondition
    with pytest.raises(FileNotFoundError):
        k8s_store.read(key)


@pytest.mark.parametrize(
    "key", ["c.example.com/pki/private/ca/keyset.yaml", "c.example.com/clusteraddons/default",
            "c.example.com/instancegroup", "c.example.com", "c.example.com/config/extra"],
)
def test_other_keys_are_not_available(k8s_store: Store, key: str) -> None:
    for attempt in (lambda: k8s_store.read(key), lambda: k8s_store.write(key, b"x"),
                    lambda: k8s_store.delete(key)):
        with pytest.raises(FatalStoreError, match="not available on k8s://"):
            attempt()


def test_unsafe_keys_are_refused(k8s_store: Store) -> None:
    with pytest.raises(InvalidKey):
        k8s_store.write("../config", cluster_yaml())


@pytest.mark.parametrize(
    ("key", "data", "problem"),
    [
        (f"{CLUSTER}/config", b"kind: [unclosed", "not valid YAML"),
        (f"{CLUSTER}/config", b"- a list\n", "not a YAML mapping"),
        (f"{CLUSTER}/config", cluster_yaml("other.example.com"), "metadata.name"),
        (f"{CLUSTER}/instancegroup/nodes", cluster_yaml(), "kind InstanceGroup"),
    ],
)
def test_content_must_be_the_object_its_key_names(
    k8s_store: Store, key: str, data: bytes, problem: str
) -> None:
    with pytest.raises(FatalStoreError, match=problem):
        k8s_store.write(key, data)
    assert listing(k8s_store) == {}


def _race(calls: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_racing_creators_and_replacers_one_wins_each(k8s_store: Store) -> None:
    key = f"{CLUSTER}/instancegroup/nodes"
    created = _race([lambda n=n: k8s_store.write(key, ig_yaml("nodes", n), if_none_match=True)
                     for n in range(6)])
    assert len([o for o in created if isinstance(o, str)]) == 1, created
    assert all(isinstance(o, ObjectExists) for o in created if not isinstance(o, str))
    base = k8s_store.read(key).version
    replaced = _race([lambda n=n: k8s_store.write(key, ig_yaml("nodes", 10 + n), if_match=base)
                      for n in range(6)])
    winners = [o for o in replaced if isinstance(o, str)]
    assert len(winners) == 1, replaced
    assert k8s_store.read(key).version == winners[0]


def test_push_lock_lives_in_a_config_map(k8s_env: dict[str, str], k8s_store: Store) -> None:
    holder = StoreLock(k8s_store, "push main")
    info = holder.acquire()
    other = KubernetesStore.from_url("k8s://other", k8s_env)
    try:
        with pytest.raises(FatalError, match="locked"):
            StoreLock(other, "push feature").acquire()
        current, _version = StoreLock.holder(other)
        assert current is not None and current.id == info.id
        holder.renew()
        holder.release()
        assert StoreLock.holder(other) == (None, None)
        assert listing(k8s_store) == {}  # the lock is not a kops object
    finally:
        other.close()


def test_current_context_is_used_for_bare_k8s_url(k8s_env: dict[str, str]) -> None:
    store = KubernetesStore.from_url("k8s://", k8s_env)
    try:
        store.write(f"{CLUSTER}/config", cluster_yaml())
        assert set(listing(store)) == {f"{CLUSTER}/config"}
    finally:
        store.close()


@pytest.mark.parametrize("url", ["k8s://no-such-context", "k8s://double/some/path"])
def test_bad_urls_are_fatal(k8s_env: dict[str, str], url: str) -> None:
    with pytest.raises(FatalStoreError):
        KubernetesStore.from_url(url, k8s_env)


def test_missing_kubeconfig_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalStoreError, match="kubeconfig"):
        KubernetesStore.from_url("k8s://", {"KUBECONFIG": str(tmp_path / "absent")})


def test_wrong_credentials_are_fatal(k8s_env: dict[str, str]) -> None:
    store = KubernetesStore.from_url("k8s://wrong-token", k8s_env)
    try:
        with pytest.raises(FatalStoreError, match="credentials"):
            list(store.list())
        with pytest.raises(FatalStoreError, match="credentials"):
            store.write(f"{CLUSTER}/config", cluster_yaml())
    finally:
        store.close()


@pytest.fixture
def failing_store(
    kube_api: KubeApiServerDouble, tmp_path: Path
) -> Iterator[Callable[[int], tuple[KubernetesStore, FailingProxyDouble]]]:
    """Fault injection: a proxy in front of the double (the real server is not proxied)."""
    kube_api.reset()
    made: list[tuple[KubernetesStore, FailingProxyDouble]] = []

    def make(failures: int) -> tuple[KubernetesStore, FailingProxyDouble]:
        proxy = FailingProxyDouble(kube_api.url, failures).start()
        kubeconfig = write_kubeconfig(tmp_path / f"proxied-{len(made)}", proxy.url)
        store = KubernetesStore.from_url("k8s://double", {"KUBECONFIG": str(kubeconfig)})
        store.retry_initial_wait = 0.01
        made.append((store, proxy))
        return store, proxy

    yield make
    for store, proxy in made:
        store.close()
        proxy.stop()


def test_server_errors_are_retried(
    failing_store: Callable[[int], tuple[KubernetesStore, FailingProxyDouble]],
) -> None:
    store, proxy = failing_store(2)
    version = store.write(f"{CLUSTER}/config", cluster_yaml(), if_none_match=True)
    assert store.read(f"{CLUSTER}/config").version == version
    assert proxy.requests_seen >= 4


def test_persistent_server_errors_end_in_a_clear_error(
    failing_store: Callable[[int], tuple[KubernetesStore, FailingProxyDouble]],
) -> None:
    store, proxy = failing_store(-1)
    with pytest.raises(RetryableStoreError, match="503"):
        store.read(f"{CLUSTER}/config")
    assert proxy.requests_seen > 1


def test_cli_pull_edit_push_reads_back_with_the_kubernetes_client(
    k8s_double: KubeApiServerDouble | None, k8s_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole loop on k8s://: push takes its lock (a ConfigMap) and replaces the one
    InstanceGroup with the resourceVersion the pull saw."""
    from kops_gitsync.cli.main import main
    from tests.core.conftest import git

    seed(k8s_env, "clusters", "minimal-aws-example-com", yaml.safe_load(cluster_yaml()))
    seed(k8s_env, "instancegroups", "minimal-aws-example-com", yaml.safe_load(ig_yaml("nodes")))
    before = fetch(k8s_env, "instancegroups", "minimal-aws-example-com", "nodes")
    # the cluster lacks its control-plane group, which push's kops checks would refuse: this
    # test is about the k8s:// round trip, so it pushes past them (tests/core checks them)
    monkeypatch.setenv("KUBECONFIG", k8s_env["KUBECONFIG"])
    monkeypatch.setenv("KOPS_STATE_STORE", "k8s://double")
    repo = tmp_path / "review"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("review repo\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "initial")

    assert main(["pull", "--repo", str(repo)]) == 0
    mirrored = repo / "state" / CLUSTER / "instancegroup" / "nodes"
    assert sorted(p.relative_to(repo / "state").as_posix()
                  for p in (repo / "state").rglob("*") if p.is_file()) == [
        f"{CLUSTER}/config", f"{CLUSTER}/instancegroup/nodes"]
    text = mirrored.read_text()
    assert "maxSize: 2" in text
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 7"))
    git(repo, "commit", "-qam", "nodes: allow seven")
    capsys.readouterr()
    assert main(["push", "--repo", str(repo), "--yes", "--skip-validation"]) == 0, (
        capsys.readouterr().err
    )

    after = fetch(k8s_env, "instancegroups", "minimal-aws-example-com", "nodes")
    assert after["spec"]["maxSize"] == 7
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # replaced, not recreated
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    cluster_now = fetch(k8s_env, "clusters", "minimal-aws-example-com", CLUSTER)
    assert cluster_now["metadata"]["generation"] == 1  # untouched
    # the push took its lock as a ConfigMap and removed it afterwards
    if k8s_double is not None:  # only the double keeps a request log
        assert ("POST", "/api/v1/namespaces/default/configmaps") in k8s_double.state.requests
        assert ("DELETE", "/api/v1/namespaces/default/configmaps/kops-gitsync-lock") in (
            k8s_double.state.requests
        )
    assert lock_config_maps(k8s_env) == []
    capsys.readouterr()
    assert main(["pull", "--repo", str(repo)]) == 0
    assert "up to date" in capsys.readouterr().out
