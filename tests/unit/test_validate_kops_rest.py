"""The rest of kops' rules 14, 16, 28, 32 and 33: one fixture cluster, one change each.

Each test also shows the nearest valid spelling passing, so a rule that fired on
everything would fail here as surely as a rule that fired on nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate.rules.labels import label_key_problem, label_value_problem
from kops_gitsync.validate.rules.stores import azure_account
from tests.unit.validate_helpers import CLUSTERS, cluster_docs, findings, rules


def _spec(docs: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["config"]["spec"]
    return spec


def _ig(docs: dict[str, Any], name: str = "nodes") -> dict[str, Any]:
    spec: dict[str, Any] = docs[f"instancegroup/{name}"]["spec"]
    return spec


def _by_rule(docs: dict[str, Any], rule_id: str) -> list[tuple[str, str, str]]:
    """(file, message, severity) of every finding of one rule."""
    return [(f.path.split("/", 2)[-1], f.message, f.severity)
            for f in findings(docs) if f.rule == rule_id]


# --- rule 16: IPv6 clusters use ::/0 ---------------------------------------------------------

def _ipv6(docs: dict[str, Any], non_masq: str) -> None:
    spec = _spec(docs)
    spec["nonMasqueradeCIDR"] = non_masq
    spec["subnets"][0]["ipv6CIDR"] = "/64#0"


def test_ipv6_cluster_must_use_all_zero_non_masquerade_cidr() -> None:
    docs = cluster_docs()
    _ipv6(docs, "fd00:10:96::/64")
    (found,) = _by_rule(docs, "non-masquerade-cidr-ipv6")
    assert found[0] == "config" and "::/0" in found[1]
    _ipv6(docs, "::/0")
    assert "non-masquerade-cidr-ipv6" not in rules(docs)


def test_ipv4_and_ipv4_mapped_non_masquerade_cidrs_are_not_ipv6() -> None:
    docs = cluster_docs()
    assert "non-masquerade-cidr-ipv6" not in rules(docs)  # 100.64.0.0/10
    _spec(docs)["nonMasqueradeCIDR"] = "::ffff:100.64.0.0/106"  # Go's To4() makes it IPv4
    assert "non-masquerade-cidr-ipv6" not in rules(docs)


# --- rule 14: egress and DualStack -----------------------------------------------------------

@pytest.mark.parametrize("egress", ["nat-0123", "eipalloc-0123", "i-0123", "tgw-0123",
                                    "External"])
def test_egress_kinds_kops_accepts_on_a_private_subnet(egress: str) -> None:
    docs = cluster_docs()
    subnet = _spec(docs)["subnets"][0]
    subnet["type"], subnet["egress"] = "Private", egress
    assert not {"subnet-egress", "subnet-egress-type"} & rules(docs)


@pytest.mark.parametrize("egress", ["igw-0123", "eigw-0123", "external", "NAT-0123"])
def test_unknown_egress_kind_is_refused(egress: str) -> None:
    docs = cluster_docs()
    subnet = _spec(docs)["subnets"][0]
    subnet["type"], subnet["egress"] = "Private", egress
    (found,) = _by_rule(docs, "subnet-egress-type")
    assert egress in found[1]


def test_egress_only_on_private_dual_stack_or_ipv6_public_subnets() -> None:
    docs = cluster_docs()
    subnet = _spec(docs)["subnets"][0]
    subnet["egress"] = "nat-0123"
    for kind in ("Public", "Utility"):
        subnet["type"] = kind
        assert "subnet-egress" in rules(docs), kind
    subnet["type"] = "Public"
    subnet["ipv6CIDR"] = "/64#0"  # kops: an IPv6-capable Public subnet may route egress
    assert "subnet-egress" not in rules(docs)
    del subnet["ipv6CIDR"]
    subnet["egress"] = "External"  # kops allows External on any subnet
    assert "subnet-egress" not in rules(docs)
    _ipv6(docs, "::/0")
    subnet["type"], subnet["egress"] = "DualStack", "nat-0123"
    assert not {"subnet-egress", "subnet-dual-stack"} & rules(docs)


def test_dual_stack_needs_an_ipv6_cluster_by_kops_definition() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"][0]["type"] = "DualStack"
    assert "subnet-dual-stack" in rules(docs)
    _spec(docs)["nonMasqueradeCIDR"] = "not:a-cidr"  # a ':' alone does not make it IPv6
    assert "subnet-dual-stack" in rules(docs)
    _spec(docs)["nonMasqueradeCIDR"] = "::/0"
    assert "subnet-dual-stack" not in rules(docs)


# --- rule 28: azureblob:// in one storage account --------------------------------------------

def _azure(docs: dict[str, Any], base: str, **stores: str) -> None:
    spec = _spec(docs)
    spec["configBase"] = base
    spec.update(stores)


def test_azure_stores_must_share_the_config_base_account() -> None:
    docs = cluster_docs()
    base = "azureblob://acct1/state/minimal-aws.example.com"
    _azure(docs, base, keyStore=f"{base}/pki", secretStore=f"{base}/secrets")
    _spec(docs)["etcdClusters"][0]["backups"] = {"backupStore": f"{base}/backups/etcd/main"}
    assert "azureblob-account" not in rules(docs)
    _spec(docs)["secretStore"] = "azureblob://acct2/state/secrets"
    _spec(docs)["etcdClusters"][1]["backups"] = {"backupStore": "azureblob://acct3/b/events"}
    found = _by_rule(docs, "azureblob-account")
    assert len(found) == 2
    assert all("acct1" in message for _, message, _ in found)


def test_azure_store_needs_an_azure_config_base() -> None:
    docs = cluster_docs()  # configBase is memfs://
    _spec(docs)["keyStore"] = "azureblob://acct1/state/pki"
    (found,) = _by_rule(docs, "azureblob-account")
    assert "configBase" in found[1]
    del _spec(docs)["configBase"]  # kops fills it from the store: nothing to compare with
    assert "azureblob-account" not in rules(docs)


def test_azure_urls_without_account_or_container_are_refused() -> None:
    assert azure_account("azureblob://acct/container/key") == ("acct", None)
    assert azure_account("azureblob:///container/key")[1] == "names no storage account"
    assert azure_account("azureblob://acct/")[1] == "names no container"
    docs = cluster_docs()
    _azure(docs, "azureblob://acct1/state", keyStore="azureblob://acct1")
    (found,) = _by_rule(docs, "azureblob-account")
    assert "container" in found[1]


# --- rule 33: node labels, IG cloud labels, taints --------------------------------------------

@pytest.mark.parametrize("key", ["role", "example.com/role", "node.kubernetes.io/pool",
                                 "a_b.c-d", "x" * 63])
def test_label_keys_kubernetes_accepts(key: str) -> None:
    assert label_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "a/b/c", "/role", "Example.com/role", "-role", "role-",
                                 "has space", "x" * 64, "example_com/role", "e.com/"])
def test_label_keys_kubernetes_refuses(key: str) -> None:
    assert label_key_problem(key) is not None


@pytest.mark.parametrize(("value", "ok"), [("", True), ("v1.2_3-a", True), ("x" * 63, True),
                                           ("x" * 64, False), ("-a", False), ("a.", False),
                                           ("a b", False), ("a/b", False)])
def test_label_values(value: str, ok: bool) -> None:
    assert (label_value_problem(value) is None) is ok


def test_node_labels_must_be_kubernetes_labels() -> None:
    docs = cluster_docs()
    _ig(docs)["nodeLabels"] = {"example.com/pool": "general", "empty": ""}
    assert "ig-node-labels" not in rules(docs)
    _ig(docs)["nodeLabels"] = {"a/b/c": "x", "team": "not valid!"}
    found = _by_rule(docs, "ig-node-labels")
    assert [file for file, _, _ in found] == ["instancegroup/nodes"] * 2
    assert all(severity == "error" for _, _, severity in found)


def test_ig_cloud_labels_reserved_names_and_own_instancegroup_tag() -> None:
    docs = cluster_docs()
    _ig(docs)["cloudLabels"] = {"team": "Platform Engineering", "kops.k8s.io/instancegroup":
                                "nodes"}  # a cloud tag, not a Kubernetes label: spaces are fine
    assert "ig-cloud-labels" not in rules(docs)
    _ig(docs)["cloudLabels"] = {"KubernetesCluster": "x", "k8s.io/role/node": "1",
                                "kops.k8s.io/instancegroup": "other"}
    messages = sorted(message for _, message, _ in _by_rule(docs, "ig-cloud-labels"))
    assert len(messages) == 3
    assert any("'nodes'" in message for message in messages)


@pytest.mark.parametrize("taint", ["dedicated=gpu:NoSchedule", "dedicated:NoExecute",
                                   "example.com/spot=true:PreferNoSchedule"])
def test_taints_kops_and_kubelet_accept(taint: str) -> None:
    docs = cluster_docs()
    _ig(docs)["taints"] = [taint]
    assert "ig-taints" not in rules(docs)


@pytest.mark.parametrize("taint", ["a:b:NoSchedule", "a=b=c:NoSchedule"])
def test_taints_that_do_not_parse(taint: str) -> None:
    docs = cluster_docs()
    _ig(docs)["taints"] = [taint]
    (found,) = _by_rule(docs, "ig-taints")
    assert found[0] == "instancegroup/nodes" and found[2] == "error"


# kops stores these (ParseTaint checks only the separators; issue 15): a warning, not an error
@pytest.mark.parametrize("taint", ["dedicated", "dedicated=gpu:NoWay", "bad key=x:NoSchedule",
                                   "dedicated=not valid:NoSchedule", "=x:NoSchedule"])
def test_taints_kops_stores_but_kubernetes_may_not_take(taint: str) -> None:
    docs = cluster_docs()
    _ig(docs)["taints"] = [taint]
    assert "ig-taints" not in rules(docs)
    (found,) = _by_rule(docs, "ig-taint-form")
    assert found[0] == "instancegroup/nodes" and found[2] == "warning"


def test_a_taint_given_twice_is_refused() -> None:
    docs = cluster_docs()
    _ig(docs)["taints"] = ["dedicated=gpu:NoSchedule", "dedicated=gpu:NoSchedule"]
    (found,) = _by_rule(docs, "ig-taints")
    assert "twice" in found[1]


# --- rule 32, strict mode: warnings only ------------------------------------------------------

def test_unset_image_and_sizes_are_warnings() -> None:
    docs = cluster_docs()
    del _ig(docs)["image"]
    del _ig(docs, "master-us-test-1a")["maxSize"]
    image = _by_rule(docs, "ig-image-unset")
    sizes = _by_rule(docs, "ig-size-unset")
    assert [file for file, _, _ in image] == ["instancegroup/nodes"]
    assert [file for file, _, _ in sizes] == ["instancegroup/master-us-test-1a"]
    assert {severity for _, _, severity in image + sizes} == {"warning"}
    assert not [f for f in findings(docs) if f.severity == "error"]


def test_karpenter_igs_are_not_asked_for_sizes() -> None:
    docs = cluster_docs()
    spec = _ig(docs)
    spec["manager"] = "Karpenter"
    del spec["minSize"], spec["maxSize"]
    assert "ig-size-unset" not in rules(docs)
    spec["manager"] = "CloudGroup"
    assert len(_by_rule(docs, "ig-size-unset")) == 2


@pytest.mark.parametrize("store", sorted(CLUSTERS))
def test_fixture_stores_pin_image_and_sizes(store: str) -> None:
    """kops' own stored IGs here all carry image and sizes, so strict mode adds nothing."""
    assert not {"ig-image-unset", "ig-size-unset"} & rules(cluster_docs(store), store)
