"""The strict loader: syntax, duplicates, documents, markers, bombs and huge files.

The bomb and huge-file tests run the loader in a subprocess with a generous timeout: a
loader that expanded the bomb would hang or exhaust memory, and the subprocess turns that
into a failure instead of a stuck test run (the timeout is a hang guard, not a speed
assertion; speed is measured in benchmarks/bench_validate.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kops_gitsync.validate import validate_cluster
from kops_gitsync.validate.loader import (
    MAX_EXPANDED_NODES,
    MAX_OBJECT_BYTES,
    conflict_markers,
    load_object,
)


def _bomb(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def _rules(raw: bytes) -> list[str]:
    _, issues = load_object("config", raw)
    return [issue.rule for issue in issues]


def _load_in_subprocess(raw: bytes) -> list[dict[str, object]]:
    code = (
        "import json, sys\n"
        "from kops_gitsync.validate.loader import load_object\n"
        "doc, issues = load_object('config', sys.stdin.buffer.read())\n"
        "print(json.dumps([{'rule': i.rule, 'message': i.message} for i in issues]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=raw, capture_output=True,
                          timeout=120, check=True)
    result: list[dict[str, object]] = json.loads(done.stdout)
    return result


def test_yaml_bomb_is_refused_with_a_clear_error() -> None:
    issues = _load_in_subprocess(_bomb())
    assert [i["rule"] for i in issues] == ["yaml-too-complex"]
    assert "alias" in str(issues[0]["message"])
    assert str(MAX_EXPANDED_NODES) in str(issues[0]["message"])


def test_huge_file_is_refused_before_parsing() -> None:
    huge = b"apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nspec:\n" + b"  x: y\n" * 2_000_000
    issues = _load_in_subprocess(huge)
    assert [i["rule"] for i in issues] == ["file-too-large"]
    assert str(MAX_OBJECT_BYTES) in str(issues[0]["message"])


def test_deep_nesting_is_refused() -> None:
    assert _rules(b"a: " + b"[" * 500 + b"]" * 500 + b"\n") == ["yaml-too-complex"]


def test_small_aliases_are_expanded_like_kops() -> None:
    doc, issues = load_object("config", b"a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n")
    assert issues == []
    assert doc is not None
    assert doc.data == {"a": {"b": 1}, "c": {"b": 1}, "d": {"b": 1, "e": 2}}


def test_every_duplicate_key_is_reported_and_the_last_value_wins() -> None:
    doc, issues = load_object("config", b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert [(i.rule, i.line, i.column) for i in issues] == [
        ("yaml-duplicate-key", 4, 3),
        ("yaml-duplicate-key", 5, 1),
    ]
    assert "line 1" in issues[1].message
    assert doc is not None and doc.data == {"b": {"c": 2}, "a": 3}


def test_second_document_is_reported_at_its_start() -> None:
    doc, issues = load_object("config", b"a: 1\n---\nb: 2\n")
    assert [(i.rule, i.line) for i in issues] == [("yaml-multiple-documents", 3)]
    assert doc is not None and doc.data == {"a": 1}


def test_empty_file_is_not_an_object() -> None:
    assert _rules(b"") == ["yaml-not-object"]
    assert _rules(b"# only a comment\n") == ["yaml-not-object"]


def test_conflict_markers_come_before_the_syntax_error() -> None:
    raw = b"a: 1\n<<<<<<< HEAD\nb: 2\n=======\nb: 3\n>>>>>>> theirs\n"
    assert conflict_markers(raw) == [2, 4, 6]
    _, issues = load_object("config", raw)
    assert [i.rule for i in issues][:3] == ["conflict-markers"] * 3


def test_conflict_markers_that_happen_to_parse_still_block_the_file() -> None:
    raw = b"a: |\n  <<<<<<< HEAD\n  x\n=======\n"
    doc, issues = load_object("config", raw)
    assert doc is None
    assert "conflict-markers" in [i.rule for i in issues]


def test_unterminated_quote_points_at_where_the_string_began() -> None:
    _, issues = load_object("config", b'a: 1\nb: "open\nc: 2\n')
    assert [(i.rule, i.line, i.column) for i in issues] == [("yaml-syntax", 2, 4)]


def test_not_utf8_is_a_syntax_finding() -> None:
    _, issues = load_object("config", b"a: 1\nb: \xff\xfe\n")
    assert [(i.rule, i.line) for i in issues] == [("yaml-syntax", 2)]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("0x1f", 31), ("010", 8), ("1_000", 1000), ("yes", True),
     ("1.5", 1.5), ("true", True),
     ("null", None), ("~", None), ('"1"', "1"), ("2016-12-10T22:42:27Z", "2016-12-10T22:42:27Z"),
     ("v1.34.0", "v1.34.0")],
)
def test_scalars_become_json_values(text: str, value: object) -> None:
    doc, _ = load_object("config", f"a: {text}\n".encode())
    assert doc is not None and doc.data == {"a": value}


def test_positions_of_keys_and_values() -> None:
    doc, _ = load_object("config", b"spec:\n  subnets:\n  - name: a\n    cidr: 10.0.0.0/8\n")
    assert doc is not None
    assert doc.position(("spec", "subnets", 0, "cidr")) == (4, 11)
    assert doc.key_position(("spec", "subnets", 0, "cidr")) == (4, 5)
    assert doc.position(("spec", "subnets", 0, "zone")) == (3, 5)  # nearest ancestor
    assert doc.position(("spec", "missing")) == (1, 1)


def test_findings_of_a_broken_ig_do_not_hide_the_cluster_findings() -> None:
    config = b"apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: x\n"
    findings = validate_cluster("c.example.com", {"config": config,
                                                  "instancegroup/nodes": b"a: [\n"})
    rules = {f.rule for f in findings}
    assert {"yaml-syntax", "cluster-name-mismatch", "version-required"} <= rules
    # A broken IG is not reported as "missing" by the cross-object rules.
    assert "cluster-instancegroups" not in rules


@pytest.mark.parametrize(
    "variant",
    ["04-yaml-syntax-unterminated-quote", "05-git-conflict-markers",
     "06-duplicate-key-kubernetesversion", "17-misspelled-field-kubernetesversion"],
)
def test_pure_python_fallback_reads_files_like_libyaml(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without libyaml the loader falls back to ruamel.yaml; findings must not change."""
    import yaml

    from kops_gitsync.validate import validate_tree
    from tests.conftest import INVALID_FIXTURES

    root = INVALID_FIXTURES / variant
    with_libyaml = validate_tree(root)
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    assert [(f.rule, f.line) for f in validate_tree(root)] == [
        (f.rule, f.line) for f in with_libyaml
    ]
    doc, _ = load_object("config", b"a: yes\nb: 010\n")
    assert doc is not None and doc.data == {"a": True, "b": 8}


def test_a_key_that_is_a_list_has_no_json_form() -> None:
    _, issues = load_object("config", b"a: 1\n? [x, y]\n: b\n")
    assert [(i.rule, i.line, i.column) for i in issues] == [("yaml-syntax", 2, 3)]
    assert "JSON" in issues[0].message


def test_byte_order_mark_and_crlf_are_fine() -> None:
    doc, issues = load_object("config", b"\xef\xbb\xbfa: 1\r\nb: 2\r\n")
    assert issues == [] and doc is not None and doc.data == {"a": 1, "b": 2}
