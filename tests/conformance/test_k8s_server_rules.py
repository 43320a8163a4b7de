"""What the real kube-apiserver enforces that the double had to learn, run against both.

Each case here was found by running the k8s:// contract (test_k8s_contract.py) against
kube-apiserver 1.20 (tests/servers/kube_apiserver.py): the real server's rule is the
reference, and the double (tests/doubles/kube_apiserver_double.py) follows it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

from kops_gitsync.errors import FatalStoreError
from kops_gitsync.vfs.base import Store
from tests.conformance.test_k8s_contract import CLUSTER, cluster_yaml, ig_yaml, listing


def test_a_crd_in_a_k8s_io_group_needs_the_approval_annotation(
    k8s_env: dict[str, str],
) -> None:
    """What kops' CRDs need to be installed on a real server (and so on the double)."""
    from kubernetes import client, config

    plural = f"widgets{uuid.uuid4().hex[:8]}"
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.test.k8s.io"},
        "spec": {"group": "test.k8s.io", "scope": "Namespaced",
                 "names": {"plural": plural, "kind": "Widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object"}}}]},
    }
    api_client = config.new_client_from_config(config_file=k8s_env["KUBECONFIG"])
    try:
        extensions = client.ApiextensionsV1Api(api_client)
        with pytest.raises(client.ApiException) as refused:
            extensions.create_custom_resource_definition(crd)
        assert refused.value.status == 422
        assert "api-approved.kubernetes.io" in refused.value.body
        crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
        extensions.create_custom_resource_definition(crd)
    finally:
        api_client.close()


def test_fields_the_crd_schema_does_not_know_are_dropped_silently(k8s_store: Store) -> None:
    """A typo in a field name is pruned by the server: the write succeeds and the field is
    gone when read back (the validate hook is what catches it before a push)."""
    doc = yaml.safe_load(cluster_yaml())
    doc["spec"]["kubernetesVersoin"] = "1.31.0"
    doc["spec"]["kubeAPIServer"] = {"nonsense": True}
    key = f"{CLUSTER}/config"
    k8s_store.write(key, yaml.safe_dump(doc).encode(), if_none_match=True)
    back = yaml.safe_load(k8s_store.read(key).data)["spec"]
    assert "kubernetesVersoin" not in back
    assert back["kubeAPIServer"] == {}
    assert back["kubernetesVersion"] == "1.30.0"


LONG_CLUSTER = "a" * 60 + ".example.com"  # its namespace name is longer than 63


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        (f"{CLUSTER}/instancegroup/Nodes_1", ig_yaml("Nodes_1"), r"RFC 1123 subdomain"),
        (f"{LONG_CLUSTER}/config", cluster_yaml(LONG_CLUSTER), r"no more than 63 characters"),
    ],
    ids=["object-name", "namespace-name"],
)
def test_an_object_the_server_refuses_is_one_line_giving_the_servers_reason(
    k8s_store: Store, key: str, data: bytes, reason: str,
) -> None:
    """The API server explains a 422 (here: a name that is not an RFC 1123 subdomain, a
    namespace name longer than 63); the error must carry that explanation."""
    with pytest.raises(FatalStoreError, match=rf"422.*metadata\.name.*{reason}") as caught:
        k8s_store.write(key, data)
    assert "\n" not in str(caught.value)
    assert listing(k8s_store) == {}
