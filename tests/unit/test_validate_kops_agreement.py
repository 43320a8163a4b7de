"""Validation agrees with what kops decodes and refuses (issues 11 and 15).

Each case here was a disagreement between ``kops-gitsync validate`` and the kops binary:
either we refused what kops stores (stricter than kops, with no later stage refusing it),
or we let through what ``kops create -f``/``kops replace -f`` refuses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.validate import Finding, validate_cluster
from tests.conftest import FIXTURE_STORES
from tests.unit.validate_helpers import cluster_docs, encode, findings


def errors(docs: dict, store: str = "minimal-aws") -> list[str]:
    return [f"{f.rule}: {f.message}" for f in findings(docs, store) if f.severity == "error"]


def test_defaulted_fields_may_be_left_empty() -> None:
    """``iam: {}``: kops defaults ``legacy``; the CRD's ``required`` is post-defaulting."""
    docs = cluster_docs()
    docs["config"]["spec"]["iam"] = {}
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Public"}}
    assert errors(docs) == []


def by_rule(docs: dict, rule: str, store: str = "minimal-aws") -> list[Finding]:
    return [f for f in findings(docs, store) if f.rule == rule]


def test_unknown_field_is_a_warning_with_a_suggestion() -> None:
    """kops drops unknown fields silently and stores the object: warn, do not refuse."""
    docs = cluster_docs()
    docs["config"]["spec"]["kubernetesVersoin"] = "1.34.0"
    (finding,) = by_rule(docs, "schema-unknown-field")
    assert finding.severity == "warning"
    assert "did you mean 'kubernetesVersion'?" in finding.message
    assert errors(docs) == []


def test_strict_turns_warnings_into_errors() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["kubernetesVersoin"] = "1.34.0"
    strict = validate_cluster("state/minimal-aws.example.com", encode(docs), strict=True)
    (finding,) = [f for f in strict if f.rule == "schema-unknown-field"]
    assert finding.severity == "error" and "--strict" in finding.message


def test_cli_strict_flag(tmp_path: Path) -> None:
    cluster = tmp_path / "minimal-aws.example.com"
    shutil.copytree(FIXTURE_STORES / "minimal-aws" / "minimal-aws.example.com", cluster)
    config = cluster / "config"
    config.write_text(config.read_text().replace("  kubernetesVersion:", "  kubernetesVersoin:"
                                                 " 1.34.0\n  kubernetesVersion:", 1))
    run = [sys.executable, "-m", "kops_gitsync", "validate", str(cluster)]
    lenient = subprocess.run(run, capture_output=True, text=True, check=False)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "did you mean 'kubernetesVersion'?" in lenient.stdout
    strict = subprocess.run([*run, "--strict"], capture_output=True, text=True, check=False)
    assert strict.returncode == 1 and "schema-unknown-field" in strict.stdout


@pytest.mark.parametrize(("taint", "verdict"), [
    # kops 1.37.0-alpha.1 pkg/apis/kops/util/taints.go ParseTaint + ValidateInstanceGroup
    ("a=b:c", "warning"),  # kops' own ha_gce input: stored and rendered
    ("dedicated=gpu:NoSchedule", None),
    ("bare-key", "warning"),  # no effect: kops takes it as a key
    ("a:b:NoSchedule", "error"),  # two ':'
    ("a=b=c:NoSchedule", "error"),  # two '='
])
def test_taints_as_kops_parses_them(taint: str, verdict: str | None) -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["taints"] = [taint]
    found = [f for f in findings(docs) if f.rule.startswith("ig-taint")]
    assert [f.severity for f in found] == ([verdict] if verdict else [])


def test_duplicate_taint_is_refused() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["taints"] = ["a=b:NoSchedule", "a=b:NoSchedule"]
    assert [f.severity for f in by_rule(docs, "ig-taints")] == ["error"]


def test_duplicate_key_is_a_warning() -> None:
    """kops' YAML decoding keeps the last of two equal keys and stores the object."""
    files = encode(cluster_docs())
    raw = (FIXTURE_STORES / "minimal-aws" / "minimal-aws.example.com" / "config").read_text()
    raw = raw.replace("spec:\n", "spec:\n  kubernetesVersion: 1.33.0\n", 1)
    files["config"] = raw.encode()
    found = [f for f in validate_cluster("state/minimal-aws.example.com", files)
             if f.rule == "yaml-duplicate-key"]
    assert [f.severity for f in found] == ["warning"]
