"""The shared fixtures: every broken variant caught by its rule, every real store clean.

Each invalid variant is pinned to the file, rule id and line of its main finding, and to
the complete set of rule ids it produces, so a rule that starts firing on good data (or
stops firing on bad data) fails here by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.validate import Finding, validate_cluster, validate_tree
from kops_gitsync.validate.engine import read_cluster_folder
from tests.conftest import FIXTURE_STORES, INVALID_FIXTURES

INVALID = INVALID_FIXTURES

# variant -> (file in the cluster folder, rule id, line, every rule id the variant yields)
VARIANTS: dict[str, tuple[str, str, int, set[str]]] = {
    "01-subnet-cidr-outside-networkcidr": ("config", "subnet-outside-network", 34, set()),
    "02-ig-subnet-not-in-cluster": ("instancegroup/nodes", "ig-subnet-exists", 17, set()),
    "03-ig-minsize-greater-than-maxsize": ("instancegroup/nodes", "ig-size-order", 14, set()),
    "04-yaml-syntax-unterminated-quote": ("config", "yaml-syntax", 4, set()),
    "05-git-conflict-markers": ("instancegroup/nodes", "conflict-markers", 13, {"yaml-syntax"}),
    "06-duplicate-key-kubernetesversion": ("config", "yaml-duplicate-key", 39, set()),
    "07-wrong-apiversion": ("config", "api-version", 1, set()),
    "08-cluster-name-mismatch-path-vs-metadata": ("config", "cluster-name-mismatch", 5, set()),
    "09-invalid-kubernetes-version": ("config", "version-invalid", 25, set()),
    "10-cluster-name-not-dns-subdomain": ("config", "cluster-name-invalid", 5, set()),
    "11-etcd-member-unknown-instancegroup": (
        "config", "etcd-member-unknown-ig", 12, {"etcd-control-plane-missing"}),
    "12-etcd-even-member-count": ("config", "etcd-member-count", 14,
                                  {"etcd-control-plane-missing"}),
    "13-networkcidr-overlaps-nonmasqueradecidr": (
        "config", "network-overlaps-non-masquerade", 27, set()),
    "14-control-plane-ig-size-above-one": (
        "instancegroup/master-us-test-1a", "ig-control-plane-size", 13, set()),
    "15-ig-unsupported-role": ("instancegroup/nodes", "ig-role", 15, set()),
    "16-subnet-cidr-host-bits-set": ("config", "cidr-host-bits", 34, set()),
    "17-misspelled-field-kubernetesversion": (
        "config", "schema-unknown-field", 25, {"version-required"}),
}


# Main findings that are warnings, not errors: kops stores these objects (issue 15). Variant
# 06 keeps the last kubernetesVersion; 17 is refused for the missing kubernetesVersion
# (version-required), not for the unknown field, which kops drops.
WARNINGS = {"06-duplicate-key-kubernetesversion", "17-misspelled-field-kubernetesversion"}


def _severity(variant: str) -> str:
    return "warning" if variant in WARNINGS else "error"


def _cluster_dir(variant: str) -> Path:
    (cluster,) = [p for p in (INVALID / variant).iterdir() if p.is_dir()]
    return cluster


def test_every_variant_in_the_fixtures_is_pinned() -> None:
    on_disk = {p.name for p in INVALID.iterdir() if p.is_dir()}
    assert on_disk == set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_invalid_variant_is_caught_with_its_rule(variant: str) -> None:
    key, rule, line, also = VARIANTS[variant]
    cluster = _cluster_dir(variant)
    findings = validate_tree(INVALID / variant)
    main = [f for f in findings if f.rule == rule]
    assert main, findings
    assert main[0].path == f"{cluster}/{key}"
    assert main[0].line == line
    assert main[0].column > 0
    assert main[0].severity == _severity(variant)
    assert {f.rule for f in findings} == {rule, *also}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_invalid_variant_through_the_hook_api(variant: str) -> None:
    """The hooks pass bytes keyed relative to the cluster and a displayed folder path."""
    key, rule, line, _ = VARIANTS[variant]
    cluster = _cluster_dir(variant)
    display = f"state/{cluster.name}"
    findings = validate_cluster(display, read_cluster_folder(cluster))
    main = next(f for f in findings if f.rule == rule)
    assert isinstance(main, Finding)
    assert (main.path, main.line, main.severity) == (f"{display}/{key}", line, _severity(variant))


@pytest.mark.parametrize("store", sorted(p.name for p in FIXTURE_STORES.iterdir()))
def test_fixture_store_passes_with_no_finding(store: str) -> None:
    assert validate_tree(FIXTURE_STORES / store) == []


@pytest.mark.parametrize("store", sorted(p.name for p in FIXTURE_STORES.iterdir()))
def test_fixture_store_against_itself_as_previous_is_clean(store: str) -> None:
    root = FIXTURE_STORES / store
    assert validate_tree(root, previous_root=root) == []


def test_messages_are_one_line_and_name_a_fix() -> None:
    for variant in VARIANTS:
        for finding in validate_tree(INVALID / variant):
            assert "\n" not in finding.message
            assert len(finding.message) > 20
