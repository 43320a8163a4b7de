"""One schema per kops minor, picked by the cluster's kops-version.txt (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.validate.engine import KOPS_VERSION_KEY, schema_choice
from kops_gitsync.validate.schema import choose_schema, load_schema, shipped_minors
from tests.conftest import FIXTURE_STORES


def test_at_least_the_last_four_minors_are_shipped() -> None:
    minors = shipped_minors()
    assert {"1.34", "1.35", "1.36", "1.37"} <= set(minors)
    assert minors[-1] == "1.37"


@pytest.mark.parametrize(("text", "minor", "noted"), [
    ("1.36.1", "1.36", False),
    ("1.34.0-beta.1", "1.34", False),
    ("v1.35.2\n", "1.35", False),
    (None, "1.37", True),
    ("", "1.37", True),
    ("1.99.0", "1.37", True),
    ("not a version", "1.37", True),
])
def test_choice_follows_kops_version_txt(text: str | None, minor: str, noted: bool) -> None:
    choice = choose_schema(text)
    assert choice.minor == minor
    assert bool(choice.note) == noted
    assert choice.kops.startswith(f"v{minor}.")


def test_fields_differ_between_minors() -> None:
    """Not one schema copied five times: kops adds fields each minor."""
    sizes = {m: len(json.dumps(load_schema("Cluster", m))) for m in shipped_minors()}
    assert len(set(sizes.values())) == len(sizes)


def test_the_engine_reads_kops_version_from_the_files() -> None:
    assert schema_choice({KOPS_VERSION_KEY: b"1.35.0"}).minor == "1.35"
    assert schema_choice({}).note


def test_cli_names_the_schema_it_used(tmp_path: Path) -> None:
    store = FIXTURE_STORES / "minimal-aws"
    proc = subprocess.run([sys.executable, "-m", "kops_gitsync", "validate", "--format", "json",
                           str(store)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (schema,) = json.loads(proc.stdout)["schemas"].values()
    assert schema.startswith("schema of kops 1.34 (v1.34.")  # its kops-version.txt: 1.34.0-beta.1
    text = subprocess.run([sys.executable, "-m", "kops_gitsync", "validate", str(store)],
                          capture_output=True, text=True, check=False)
    assert "schema of kops 1.34" in text.stderr


def test_a_folder_with_only_kops_version_txt_has_nothing_to_judge() -> None:
    from kops_gitsync.validate import validate_cluster

    assert validate_cluster("state/gone.example.com", {KOPS_VERSION_KEY: b"1.36.0"}) == []


def test_the_chosen_minor_decides_what_is_unknown() -> None:
    """A field only the newer kops knows is a warning against the older minor's schema."""
    from kops_gitsync.validate import validate_cluster
    from tests.unit.validate_helpers import cluster_docs, encode

    older, newer = shipped_minors()[0], shipped_minors()[-1]
    kubelet = ("properties", "spec", "properties", "kubelet", "properties")

    def kubelet_fields(minor: str) -> set[str]:
        node: Any = load_schema("Cluster", minor)
        for step in kubelet:
            node = node[step]
        return set(node)

    new_only = sorted(kubelet_fields(newer) - kubelet_fields(older))
    assert new_only, f"no kubelet field added between {older} and {newer}"
    docs = cluster_docs()
    docs["config"]["spec"].setdefault("kubelet", {})[new_only[0]] = 1
    files = encode(docs)

    def unknown(version: bytes) -> list[str]:
        found = validate_cluster("state/minimal-aws.example.com",
                                 {**files, KOPS_VERSION_KEY: version})
        return [f.message for f in found if f.rule == "schema-unknown-field"]

    assert unknown(f"{older}.0".encode()) and not unknown(f"{newer}.0".encode())
