"""Update-only rules: they run only when the previous version of the cluster is given."""

from __future__ import annotations

import copy

from tests.unit.validate_helpers import cluster_docs, findings, rules


def test_removing_an_etcd_cluster_is_refused_only_as_an_update() -> None:
    before = cluster_docs("ha")
    after = copy.deepcopy(before)
    after["config"]["spec"]["etcdClusters"].pop()  # events
    assert "update-etcd-removed" not in rules(after, "ha")
    (finding,) = [f for f in findings(after, "ha", before) if f.rule == "update-etcd-removed"]
    assert "'events'" in finding.message and "removed" in finding.message
    assert finding.path.endswith("/config") and finding.line > 0


def test_renaming_an_etcd_cluster_is_reported_as_a_rename() -> None:
    before = cluster_docs()
    after = copy.deepcopy(before)
    after["config"]["spec"]["etcdClusters"][1]["name"] = "leases"
    (finding,) = [f for f in findings(after, previous=before) if f.rule == "update-etcd-removed"]
    assert "renamed to 'leases'" in finding.message


def test_moving_an_etcd_member_to_another_instance_group_is_refused() -> None:
    before = cluster_docs("ha")
    after = copy.deepcopy(before)
    members = after["config"]["spec"]["etcdClusters"][0]["etcdMembers"]
    members[0]["instanceGroup"], members[1]["instanceGroup"] = (
        members[1]["instanceGroup"], members[0]["instanceGroup"])
    moved = [f for f in findings(after, "ha", before) if f.rule == "update-etcd-member-ig-changed"]
    assert len(moved) == 2


def test_adding_an_etcd_member_is_not_an_update_violation() -> None:
    before = cluster_docs("ha")
    after = copy.deepcopy(before)
    cluster = after["config"]["spec"]["etcdClusters"][0]
    cluster["etcdMembers"] = cluster["etcdMembers"][:1]
    assert {r for r in rules(before, "ha", after) if r.startswith("update-")} == set()


def test_reserved_cloud_labels_on_update() -> None:
    before = cluster_docs()
    after = copy.deepcopy(before)
    after["config"]["spec"]["cloudLabels"] = {"team": "a", "KubernetesCluster": "x",
                                              "kops.k8s.io/instancegroup": "y"}
    assert "update-cloud-labels-reserved" not in rules(after)
    found = findings(after, previous=before)
    assert len([f for f in found if f.rule == "update-cloud-labels-reserved"]) == 2


def test_an_unreadable_previous_version_disables_the_update_rules() -> None:
    after = cluster_docs()
    after["config"]["spec"]["etcdClusters"].pop()
    from kops_gitsync.validate import validate_cluster
    from tests.unit.validate_helpers import encode

    found = validate_cluster("state/minimal-aws.example.com", encode(after),
                             {"config": b"a: [\n"})
    assert not [f for f in found if f.rule.startswith("update-")]
    assert not [f for f in found if f.rule == "yaml-syntax"]  # previous is not validated
