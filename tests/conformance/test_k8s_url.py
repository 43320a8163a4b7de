"""``--state k8s://`` means the kops API of the current kube context (kops' own rule).

kops trims one trailing ``/`` from every state URL, so ``k8s://`` arrives as ``k8s:/``; it
was taken for a local directory. Self-contained (no shared fixtures): the objects are seeded
with the kubernetes client, as kops would write them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.registry import normalize_url, open_store, scheme_of
from tests.core.conftest import git

CLUSTER = "url.example.com"
NAMESPACE = "url-example-com"


@pytest.mark.parametrize("url", ["k8s://", "k8s:/", "k8s:///", "k8s:"])
def test_bare_k8s_url_is_the_current_context(url: str, k8s_env: dict[str, str]) -> None:
    assert scheme_of(url) == "k8s"
    assert normalize_url(url).startswith("k8s://")
    store = open_store(url, k8s_env)
    try:
        assert type(store).__name__ == "KubernetesStore"
        assert list(store.list()) == []
    finally:
        store.close()


@pytest.mark.parametrize("url", ["/srv/k8s:/", "k8s", "./k8s:"])
def test_local_paths_stay_local(url: str) -> None:
    assert scheme_of(url) == "file"


def test_bare_s3_url_names_no_bucket() -> None:
    with pytest.raises(FatalError, match="no bucket"):
        open_store("s3:/", {})


def _seed(kubeconfig: str) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        try:  # a real server keeps namespaces: an earlier test may have made it
            client.CoreV1Api(api_client).create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        except client.ApiException as exc:
            assert exc.status == 409
        client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            "kops.k8s.io", "v1alpha2", NAMESPACE, "clusters",
            {"apiVersion": "kops.k8s.io/v1alpha2", "kind": "Cluster",
             "metadata": {"name": CLUSTER}, "spec": {"kubernetesVersion": "1.30.0"}},
        )
    finally:
        api_client.close()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_cli_pull_from_bare_k8s_url(
    how: str, k8s_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kops_gitsync.cli.main import main

    _seed(k8s_env["KUBECONFIG"])
    monkeypatch.setenv("KUBECONFIG", k8s_env["KUBECONFIG"])
    repo = tmp_path / "review"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    if how == "env":
        monkeypatch.setenv("KOPS_STATE_STORE", "k8s://")
        code = main(["pull", "--repo", str(repo)])
    else:
        code = main(["pull", "--repo", str(repo), "--state", "k8s://"])
    assert code == 0, capsys.readouterr().err
    assert "kubernetesVersion: 1.30.0" in (repo / "state" / CLUSTER / "config").read_text()
