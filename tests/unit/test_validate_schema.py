"""The CRD-derived schemas: shipped in the package, unknown fields, near misses, types."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.validate.schema import load_bundle, load_schema, shipped_minors, suggest
from tests.unit.validate_helpers import cluster_docs, findings

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "kops_gitsync" / "validate" / "schemas"


# A kops clone with its tags (a bare one will do); tools/derive_schemas.py reads the CRDs there.
KOPS_GIT = Path(os.environ.get("KOPS_GIT_DIR", "/work/.mirror/kubernetes+kops/repo"))


def test_shipped_schemas_are_what_the_script_derives(tmp_path: Path) -> None:
    """Re-derive every shipped minor from its tag (recorded in the bundle) and compare."""
    if not KOPS_GIT.is_dir():
        pytest.skip(f"{KOPS_GIT} is absent (a kops clone with tags; set KOPS_GIT_DIR)")
    shipped = sorted(SCHEMAS.glob("kops-*.json.gz"))
    tags = [json.loads(gzip.decompress(p.read_bytes()))["kops"] for p in shipped]
    subprocess.run([sys.executable, str(REPO / "tools" / "derive_schemas.py"),
                    "--kops-git", str(KOPS_GIT), "--out", str(tmp_path), *tags],
                   check=True, capture_output=True)
    for path in shipped:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_schemas_load_from_the_package_and_close_objects() -> None:
    schema = load_schema("Cluster")
    assert schema["properties"]["spec"]["additionalProperties"] is False
    assert "commit" in load_bundle(shipped_minors()[-1])["$comment"]
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

    for minor in shipped_minors():
        for kind in ("Cluster", "InstanceGroup"):
            Draft202012Validator.check_schema(load_schema(kind, minor))


def _mutations() -> list[tuple[str, Any]]:
    """(kind, document) pairs: every fixture object, plus broken variants of each kind."""
    out: list[tuple[str, Any]] = []
    for store in ("minimal-aws", "ha", "minimal_gce", "privatecalico"):
        for key, doc in cluster_docs(store).items():
            out.append(("Cluster" if key == "config" else "InstanceGroup", doc))
    docs = cluster_docs()
    config, nodes = docs["config"], docs["instancegroup/nodes"]
    config["spec"]["kubernetesVersoin"] = config["spec"].pop("kubernetesVersion")
    config["spec"]["subnets"][0]["cidr"] = 17
    config["spec"]["etcdClusters"][0]["cpuRequest"] = "lots"
    config["spec"]["etcdClusters"][1]["memoryRequest"] = True
    config["spec"]["cloudLabels"] = {"a": 1}
    config["metadata"]["lables"] = {}
    config["spec"]["api"] = "public"
    nodes["spec"]["maxSize"] = "two"
    nodes["spec"]["minSize"] = 1.0
    nodes["spec"]["subnets"] = "us-test-1a"
    nodes["spec"]["taints"] = [None, "a=b:NoSchedule"]
    nodes["spec"]["rootVolumeSize"] = None
    out += [("Cluster", config), ("InstanceGroup", nodes), ("Cluster", []), ("Cluster", None)]
    return out


def test_builtin_evaluator_agrees_with_jsonschema() -> None:
    """The hook evaluates the schema itself (no jsonschema import); it must agree with it."""
    from jsonschema import Draft202012Validator

    from kops_gitsync.validate.schema import schema_errors

    for kind, doc in _mutations():
        schema = load_schema(kind)
        ours = sorted((k, tuple(map(str, p))) for k, p, _, _ in schema_errors(schema, doc))
        theirs = sorted(
            (str(e.validator), tuple(map(str, e.absolute_path)))
            for e in Draft202012Validator(schema).iter_errors(doc)
        )
        assert ours == theirs, (kind, doc)


def test_schema_with_an_unsupported_keyword_is_refused() -> None:
    from kops_gitsync.validate.schema import ensure_supported

    ensure_supported(load_schema("Cluster"), "cluster.json")
    nested = {"type": "object", "properties": {"a": {"items": {"anyOf": [{"minimum": 1}]}}}}
    with pytest.raises(ValueError, match="minimum"):
        ensure_supported(nested, "x.json")
