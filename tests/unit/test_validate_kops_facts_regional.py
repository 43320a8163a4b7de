"""kops' DigitalOcean and Linode network rules as data (kops 1.37.0-alpha.1).

Cases from linode_test.go TestLinodeValidateCluster and TestValidateNetworkingLinode; the
DigitalOcean ones from validateNetworking's code (the same rule, older: kops 1.34 has it).
"""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate import validate_cluster
from tests.unit.validate_helpers import CLUSTERS, cluster_docs, encode

KOPS = "v1.37.0-alpha.1"


def _refused(cloud: str, spec: dict[str, Any], name: str | None = None,
             kops_version: str | None = None) -> set[str]:
    docs = cluster_docs()
    docs["config"]["spec"].update({"cloudProvider": cloud, **spec})
    if name is not None:
        docs["config"]["metadata"]["name"] = name
    files = encode(docs)
    if kops_version:
        files["kops-version.txt"] = kops_version.encode()
    found = validate_cluster(f"state/{name or CLUSTERS['minimal-aws']}", files)
    return {f.message.split(": ", 1)[0] for f in found
            if f.severity == "error" and f.rule == "cloud-network"}


@pytest.mark.parametrize("cloud", ["linode", "digitalocean"])
@pytest.mark.parametrize(("spec", "expected"), [
    ({"networkCIDR": "10.0.0.0/16"}, set()),
    ({"networkCIDR": "8.8.8.0/24"}, {"spec.networking.networkCIDR"}),
    ({"networkCIDR": "10.0.0.0/16", "networkID": "123456"}, {"spec.networking.networkCIDR"}),
    ({"networkCIDR": None, "networkID": "123456"}, set()),
])
def test_network_cidr_private_and_exclusive_with_network_id(cloud: str, spec: dict[str, Any],
                                                            expected: set[str]) -> None:
    assert _refused(cloud, spec) == expected


@pytest.mark.parametrize(("name", "refused"), [
    ("linode.example.com", False), ("a" * 33, True),
])
def test_linode_cluster_name_length(name: str, refused: bool) -> None:
    assert bool(_refused("linode", {}, name=name)) == refused


def test_linode_rules_need_kops_1_36() -> None:
    assert _refused("linode", {"networkCIDR": "8.8.8.0/24"}, kops_version="1.35.2") == set()
    assert _refused("digitalocean", {"networkCIDR": "8.8.8.0/24"},
                    kops_version="1.34.0") == {"spec.networking.networkCIDR"}
