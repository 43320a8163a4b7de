"""k8s:// key <-> kops API object mapping and the stable byte form (no server needed)."""

from __future__ import annotations

import pytest
import yaml

from kops_gitsync.errors import FatalStoreError
from kops_gitsync.vfs.k8s import KopsObject, namespace_for, object_bytes, object_for_key


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a.example.com/config",
         KopsObject("Cluster", "clusters", "a.example.com", "a.example.com")),
        ("a.example.com/instancegroup/nodes-1a",
         KopsObject("InstanceGroup", "instancegroups", "a.example.com", "nodes-1a")),
    ],
)
def test_keys_name_objects(key: str, expected: KopsObject) -> None:
    assert object_for_key(key) == expected
    assert expected.namespace == "a-example-com"


def test_namespace_is_the_cluster_name_with_dashes() -> None:
    assert namespace_for("k8s.dev.example.com") == "k8s-dev-example-com"


@pytest.mark.parametrize(
    "key", ["a.example.com/pki/issued/ca/keyset.yaml", "a.example.com/cluster-completed.spec",
            "a.example.com/instancegroup/nodes/extra", ".kops-gitsync.lock.other"],
)
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(FatalStoreError, match="not available on k8s://"):
        object_for_key(key)


def test_object_bytes_drop_server_metadata_and_sort_keys() -> None:
    served = {
        "spec": {"role": "Node", "maxSize": 2},
        "kind": "InstanceGroup",
        "apiVersion": "kops.k8s.io/v1alpha2",
        "metadata": {
            "name": "nodes", "namespace": "a-example-com", "resourceVersion": "1234",
            "uid": "u-1", "generation": 3, "creationTimestamp": "2026-11-24T00:00:00Z",
            "managedFields": [{"manager": "kops"}],
            "labels": {"kops.k8s.io/cluster": "a.example.com"},
        },
    }
    text = object_bytes(served).decode()
    assert yaml.safe_load(text)["metadata"] == {
        "name": "nodes", "labels": {"kops.k8s.io/cluster": "a.example.com"}
    }
    positions = [text.index(field) for field in ("apiVersion", "kind", "metadata", "spec")]
    assert positions == sorted(positions)
    later = {**served, "metadata": {**served["metadata"], "resourceVersion": "9999"}}
    assert object_bytes(later) == object_bytes(served)
