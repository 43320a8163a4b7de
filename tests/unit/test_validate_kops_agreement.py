"""Validation agrees with what kops decodes and refuses (issues 11 and 15).

Each case here was a disagreement between ``kops-gitsync validate`` and the kops binary:
either we refused what kops stores (stricter than kops, with no later stage refusing it),
or we let through what ``kops create -f``/``kops replace -f`` refuses.
"""

from __future__ import annotations

from tests.unit.validate_helpers import cluster_docs, findings


def errors(docs: dict, store: str = "minimal-aws") -> list[str]:
    return [f"{f.rule}: {f.message}" for f in findings(docs, store) if f.severity == "error"]


def test_defaulted_fields_may_be_left_empty() -> None:
    """``iam: {}``: kops defaults ``legacy``; the CRD's ``required`` is post-defaulting."""
    docs = cluster_docs()
    docs["config"]["spec"]["iam"] = {}
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Public"}}
    assert errors(docs) == []
