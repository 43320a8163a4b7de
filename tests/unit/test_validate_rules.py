"""Semantic rules, one fixture cluster with one change each, beyond the shared variants."""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.validate.rules.instancegroups import go_duration_seconds
from kops_gitsync.validate.rules.version import parse_kubernetes_version
from tests.unit.validate_helpers import cluster_docs, findings, rules


def _spec(docs: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = docs["config"]["spec"]
    return spec


def _ig(docs: dict[str, Any], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = docs[f"instancegroup/{name}"]["spec"]
    return spec


# --- names -------------------------------------------------------------------------------

def test_cluster_name_without_dot_needs_dns_none() -> None:
    docs = cluster_docs()
    docs["config"]["metadata"]["name"] = "minimal"
    assert "cluster-name-needs-dot" in rules(docs)
    _spec(docs)["topology"] = {"dns": {"type": "None"}}
    assert "cluster-name-needs-dot" not in rules(docs)


def test_gossip_name_needs_dns_none_where_the_cloud_has_no_gossip() -> None:
    """kops 1.37 keeps legacy gossip on AWS (its gossip-aws test input), not on metal/Linode."""
    docs = cluster_docs()
    docs["config"]["metadata"]["name"] = "x.k8s.local"
    assert "cluster-name-gossip" not in rules(docs)
    docs["config"]["spec"]["cloudProvider"] = "metal"
    assert "cluster-name-gossip" in rules(docs)


def test_ig_file_name_and_label_must_match() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["metadata"]["name"] = "workers"
    docs["instancegroup/nodes"]["metadata"]["labels"]["kops.k8s.io/cluster"] = "other.example.com"
    found = {(f.path.rsplit("/", 1)[-1], f.rule) for f in findings(docs)}
    assert ("nodes", "ig-name-mismatch") in found
    assert ("nodes", "ig-cluster-label") in found


def test_missing_cluster_label_is_a_warning() -> None:
    docs = cluster_docs()
    del docs["instancegroup/nodes"]["metadata"]["labels"]
    (label,) = [f for f in findings(docs) if f.rule == "ig-cluster-label"]
    assert label.severity == "warning"


# --- version -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["v1.34.0", "1.34.0", "1.34", " v1.34.0 ", "1.34.0-beta.1",
                                  "v1.034.0", "https://example.com/kubernetes/v1.34.2/bin/"])
def test_kubernetes_versions_kops_accepts(text: str) -> None:
    assert parse_kubernetes_version(text) is not None


@pytest.mark.parametrize("text", ["1.34.x", "latest", "1..3", "v1.34.0.1", "", "1.34.0-beta_1"])
def test_kubernetes_versions_kops_refuses(text: str) -> None:
    assert parse_kubernetes_version(text) is None


# --- network -----------------------------------------------------------------------------

def test_subnets_overlapping_each_other_are_caught_though_kops_does_not() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"].append({"cidr": "172.20.48.0/20", "name": "b", "type": "Public",
                                   "zone": "us-test-1b"})
    (overlap,) = [f for f in findings(docs) if f.rule == "subnet-overlap"]
    assert "us-test-1a" in overlap.message


def test_subnet_inside_an_additional_network_cidr_is_fine() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"][0]["cidr"] = "10.1.0.0/19"
    assert "subnet-outside-network" in rules(docs)
    _spec(docs)["additionalNetworkCIDRs"] = ["10.1.0.0/16"]
    assert rules(docs) == set()


def test_pod_and_service_ranges_against_subnets_and_non_masquerade() -> None:
    docs = cluster_docs()
    _spec(docs)["podCIDR"] = "172.20.32.0/20"
    _spec(docs)["serviceClusterIPRange"] = "172.20.40.0/21"
    assert {"subnet-overlaps-pod-cidr", "subnet-overlaps-service-range",
            "pod-cidr-outside-non-masquerade"} <= rules(docs)


def test_pod_cidr_overlap_is_allowed_with_amazonvpc() -> None:
    docs = cluster_docs()
    _spec(docs)["podCIDR"] = "172.20.32.0/20"
    _spec(docs)["nonMasqueradeCIDR"] = "172.20.0.0/16"
    _spec(docs)["networking"] = {"amazonvpc": {}}
    assert {"subnet-overlaps-pod-cidr", "network-overlaps-non-masquerade"} & rules(docs) == set()


def test_kube_dns_server_ip_inside_service_range() -> None:
    docs = cluster_docs()
    _spec(docs)["serviceClusterIPRange"] = "100.64.0.0/13"
    _spec(docs)["kubeDNS"] = {"serverIP": "100.72.0.10"}
    assert "kube-dns-server-ip" in rules(docs)
    _spec(docs)["kubeDNS"] = {"serverIP": "100.64.0.10"}
    assert "kube-dns-server-ip" not in rules(docs)


def test_host_bits_message_suggests_the_network_address() -> None:
    docs = cluster_docs()
    _spec(docs)["networkCIDR"] = "172.20.1.0/16"
    (finding,) = [f for f in findings(docs) if f.rule == "cidr-host-bits"]
    assert "172.20.0.0/16" in finding.message


def test_unparseable_cidrs_and_access_entries() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"][0]["cidr"] = "172.20.32.0/33"
    _spec(docs)["sshAccess"] = ["everyone"]
    assert {"cidr-invalid", "access-cidr"} <= rules(docs)


def test_subnet_names_unique_types_known_ids_all_or_none() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"].append({"cidr": "172.20.64.0/19", "name": "us-test-1a",
                                   "type": "Secret", "zone": "us-test-1a", "id": "subnet-1"})
    assert {"subnet-name-unique", "subnet-type", "subnet-id-all-or-none"} <= rules(docs)


def test_networking_exactly_one_and_not_removed() -> None:
    docs = cluster_docs()
    _spec(docs)["networking"] = {"cni": {}, "calico": {}}
    assert "networking-exactly-one" in rules(docs)
    _spec(docs)["networking"] = {"weave": {}}
    assert "networking-unsupported" in rules(docs)


# --- cloud -------------------------------------------------------------------------------

def test_gce_rules_apply_only_on_gce() -> None:
    docs = cluster_docs("minimal_gce")
    _spec(docs)["networkCIDR"] = "10.0.0.0/16"
    _spec(docs)["subnets"][0]["zone"] = "us-test1-a"
    del _ig(docs, "nodes")["zones"]
    assert {"network-cidr-forbidden", "gce-subnet-zone", "gce-ig-zones"} <= rules(docs,
                                                                                 "minimal_gce")
    aws = cluster_docs()
    del _ig(aws, "nodes")["associatePublicIp"]
    assert rules(aws) == set()  # no zones on AWS IGs is fine


def test_gce_subnets_need_one_region() -> None:
    docs = cluster_docs("minimal_gce")
    _spec(docs)["subnets"].append({"cidr": "10.0.32.0/20", "name": "b", "region": "eu-x1",
                                   "type": "Public"})
    assert "subnet-region" in rules(docs, "minimal_gce")


def test_aws_needs_network_cidr_and_a_known_cloud() -> None:
    docs = cluster_docs()
    del _spec(docs)["networkCIDR"]
    assert "network-cidr-required" in rules(docs)
    _spec(docs)["cloudProvider"] = "moon"
    assert "cloud-provider" in rules(docs)


def test_removed_fields_and_classic_load_balancer() -> None:
    docs = cluster_docs()
    _spec(docs)["iam"] = {"legacy": True}
    _spec(docs)["api"] = {"loadBalancer": {"class": "Classic", "type": "Public"}}
    assert {"forbidden-field", "api-lb-classic"} <= rules(docs)


# --- etcd --------------------------------------------------------------------------------

def test_etcd_names_members_and_versions() -> None:
    docs = cluster_docs()
    main, events = _spec(docs)["etcdClusters"]
    events["name"] = "main"
    main["etcdMembers"].append({"name": "us-test-1a", "instanceGroup": "nodes"})
    main["etcdMembers"].append({"name": "x"})
    main["version"] = "2.2.1"
    found = rules(docs)
    assert {"etcd-name-duplicate", "etcd-member-name-duplicate", "etcd-member-fields",
            "etcd-member-not-control-plane", "etcd-version"} <= found


def test_etcd_unknown_name_and_zero_members() -> None:
    docs = cluster_docs()
    _spec(docs)["etcdClusters"][1] = {"name": "audit", "etcdMembers": []}
    assert {"etcd-name", "etcd-member-count"} <= rules(docs)


def test_etcd_required() -> None:
    docs = cluster_docs()
    del _spec(docs)["etcdClusters"]
    assert "etcd-required" in rules(docs)


# --- instance groups ---------------------------------------------------------------------

def test_role_case_mistake_gets_a_suggestion() -> None:
    docs = cluster_docs()
    _ig(docs, "nodes")["role"] = "node"
    (finding,) = [f for f in findings(docs) if f.rule == "ig-role"]
    assert "'Node'" in finding.message


def test_cluster_needs_control_plane_and_node_groups() -> None:
    docs = cluster_docs()
    del docs["instancegroup/nodes"]
    assert "cluster-instancegroups" in rules(docs)


def test_aws_ig_fields() -> None:
    docs = cluster_docs()
    _ig(docs, "nodes")["rootVolumeType"] = "sc1"
    _ig(docs, "nodes")["maxInstanceLifetime"] = "1h0m0s"
    _ig(docs, "nodes")["taints"] = ["dedicated=x:NoSchedule", "dedicated=y:NoSchedule", "bad"]
    _ig(docs, "nodes")["sysctlParameters"] = ["net.ipv4.ip_forward"]
    assert {"ig-root-volume-type", "ig-max-instance-lifetime", "ig-taints",
            "ig-sysctl"} <= rules(docs)


def test_apiserver_role_needs_dns_on_aws() -> None:
    docs = cluster_docs()
    _ig(docs, "nodes")["role"] = "APIServer"
    assert "ig-apiserver-role" not in rules(docs)
    _spec(docs)["topology"] = {"dns": {"type": "None"}}
    assert "ig-apiserver-role" in rules(docs)


def test_control_plane_ig_needs_a_subnet() -> None:
    docs = cluster_docs()
    del _ig(docs, "master-us-test-1a")["subnets"]
    assert "ig-control-plane-subnets" in rules(docs)


@pytest.mark.parametrize(("text", "seconds"), [("0s", 0), ("0", 0), ("48h20m0s", 174000),
                                               ("1.5h", 5400), ("300ms", 0.3), ("1d", None)])
def test_go_durations(text: str, seconds: float | None) -> None:
    assert go_duration_seconds(text) == seconds


# --- structure ---------------------------------------------------------------------------

def test_wrong_kind_for_the_path() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["kind"] = "Cluster"
    assert "api-kind" in rules(docs)


def test_v1alpha3_and_legacy_group_are_accepted() -> None:
    docs = cluster_docs()
    for doc in docs.values():
        doc["apiVersion"] = "kops/v1alpha2"
    assert rules(docs) == set()
    docs["config"]["apiVersion"] = "kops.k8s.io/v1alpha3"
    (finding,) = findings(docs)
    assert (finding.rule, finding.severity) == ("api-version-unchecked", "warning")


def test_instance_groups_without_a_cluster() -> None:
    docs = cluster_docs()
    del docs["config"]
    assert rules(docs) == {"cluster-config-missing"}


def test_service_account_issuer_discovery() -> None:
    docs = cluster_docs()
    _spec(docs)["serviceAccountIssuerDiscovery"] = {"discoveryStore": "s3://my.bucket/oidc",
                                                    "enableAWSOIDCProvider": True}
    (finding,) = [f for f in findings(docs) if f.rule == "service-account-issuer-discovery"]
    assert "dot" in finding.message
    _spec(docs)["serviceAccountIssuerDiscovery"] = {"enableAWSOIDCProvider": True}
    assert "service-account-issuer-discovery" in rules(docs)
    _spec(docs)["serviceAccountIssuerDiscovery"] = {"discoveryStore": "gs://oidc-bucket"}
    assert "service-account-issuer-discovery" not in rules(docs)


def test_user_data_type_and_warm_pools() -> None:
    docs = cluster_docs()
    _ig(docs, "nodes")["additionalUserData"] = [{"name": "x", "type": "text/plain",
                                                 "content": "echo"}]
    _ig(docs, "master-us-test-1a")["warmPool"] = {"minSize": 1}
    _ig(docs, "nodes")["warmPool"] = {}
    _ig(docs, "nodes")["maxPrice"] = "0.1"
    found = [(f.path.rsplit("/", 1)[-1], f.rule) for f in findings(docs)]
    assert ("nodes", "ig-user-data-type") in found
    assert found.count(("master-us-test-1a", "ig-warm-pool")) == 1
    assert found.count(("nodes", "ig-warm-pool")) == 1


def test_egress_and_dual_stack_need_private_or_ipv6() -> None:
    docs = cluster_docs()
    _spec(docs)["subnets"][0]["egress"] = "nat-0123"
    _spec(docs)["subnets"].append({"cidr": "172.20.64.0/19", "name": "b", "type": "DualStack",
                                   "zone": "us-test-1b"})
    assert {"subnet-egress", "subnet-dual-stack"} <= rules(docs)


def test_a_crashing_check_fails_closed_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kops_gitsync.validate import rules as rules_module

    def broken_check(view: object) -> list[object]:
        raise KeyError("surprise")

    monkeypatch.setattr(rules_module, "CHECKS", (*rules_module.CHECKS, broken_check))
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["minSize"] = 9
    found = findings(docs)
    assert {f.rule for f in found} == {"ig-size-order", "rule-crashed"}
    (internal,) = [f for f in found if f.rule == "rule-crashed"]
    assert internal.severity == "error" and "broken_check" in internal.message
