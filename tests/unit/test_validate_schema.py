"""The CRD-derived schemas: shipped in the package, unknown fields, near misses, types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kops_gitsync.validate.schema import load_schema, suggest
from tests.conftest import SHARED
from tests.unit.validate_helpers import cluster_docs, findings

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "kops_gitsync" / "validate" / "schemas"


def test_shipped_schemas_are_what_the_script_derives(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "tools" / "derive_schemas.py"),
                    str(SHARED / "kops-crds"), str(tmp_path)], check=True, capture_output=True)
    for name in ("cluster.json", "instancegroup.json"):
        assert (tmp_path / name).read_text() == (SCHEMAS / name).read_text(), name


def test_schemas_load_from_the_package_and_close_objects() -> None:
    schema = load_schema("Cluster")
    assert schema["properties"]["spec"]["additionalProperties"] is False
    assert "kops commit" in schema["$comment"]
    assert load_schema("Cluster") is schema  # parsed once


def test_misspelt_field_gets_a_did_you_mean_at_its_key() -> None:
    docs = cluster_docs()
    subnet = docs["config"]["spec"]["subnets"][0]
    subnet["zones"] = subnet.pop("zone")
    (finding,) = [f for f in findings(docs) if f.rule == "schema-unknown-field"]
    assert "spec.subnets[0].zones" in finding.message
    assert "did you mean 'zone'?" in finding.message


def test_unknown_field_without_a_near_miss() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["flavour"] = "vanilla"
    (finding,) = [f for f in findings(docs) if f.rule == "schema-unknown-field"]
    assert finding.path.endswith("instancegroup/nodes")
    assert "did you mean" not in finding.message


def test_metadata_typos_are_caught_too() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["metadata"]["lables"] = {}
    (finding,) = [f for f in findings(docs) if f.rule == "schema-unknown-field"]
    assert "did you mean 'labels'?" in finding.message


def test_wrong_types_are_reported_at_the_value() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["maxSize"] = "two"
    docs["config"]["spec"]["etcdClusters"][0]["cpuRequest"] = 0.5  # a quantity may be a number
    invalid = [f for f in findings(docs) if f.rule == "schema-invalid"]
    assert len(invalid) == 1
    assert "spec.maxSize" in invalid[0].message


def test_suggest_prefers_case_insensitive_matches() -> None:
    assert suggest("kubernetesversion", ["kubernetesVersion", "kubelet"]) == "kubernetesVersion"
    assert suggest("nothing-like-it", ["kubernetesVersion"]) is None


def test_shipped_schema_is_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    for name in ("cluster.json", "instancegroup.json"):
        Draft202012Validator.check_schema(json.loads((SCHEMAS / name).read_text()))
