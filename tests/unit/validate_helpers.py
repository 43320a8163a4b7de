"""Build variants of the fixture clusters for rule tests.

A test starts from a real fixture cluster, changes one thing in the parsed documents and
validates the result. Documents are written back as JSON, which is valid YAML, so the
variant differs from the fixture only in the change under test.
"""

from __future__ import annotations

import json
from typing import Any

from kops_gitsync.validate import Finding, validate_cluster
from kops_gitsync.validate.engine import read_cluster_folder
from kops_gitsync.validate.loader import load_object
from tests.conftest import FIXTURE_STORES

CLUSTERS = {
    "minimal-aws": "minimal-aws.example.com",
    "ha": "ha.example.com",
    "minimal_gce": "minimal-gce.example.com",
    "privatecalico": "privatecalico.example.com",
}


def cluster_docs(store: str = "minimal-aws") -> dict[str, Any]:
    """The fixture cluster's object files, parsed: {"config": {...}, "instancegroup/x": {...}}."""
    files = read_cluster_folder(FIXTURE_STORES / store / CLUSTERS[store])
    docs = {}
    for key, raw in files.items():
        doc, issues = load_object(key, raw)
        assert doc is not None and not issues
        docs[key] = doc.data
    return docs


def encode(docs: dict[str, Any]) -> dict[str, bytes]:
    return {key: json.dumps(data, indent=1).encode() for key, data in docs.items()}


def findings(docs: dict[str, Any], store: str = "minimal-aws",
             previous: dict[str, Any] | None = None) -> list[Finding]:
    return validate_cluster(f"state/{CLUSTERS[store]}", encode(docs),
                            encode(previous) if previous is not None else None)


def rules(docs: dict[str, Any], store: str = "minimal-aws",
          previous: dict[str, Any] | None = None) -> set[str]:
    return {f.rule for f in findings(docs, store, previous)}
