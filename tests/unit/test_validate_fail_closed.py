"""A check that raises must fail the run with one line naming the check and the file.

Before: a crashing check became an ``internal-error`` *warning*, so the hook passed
(exit 0) on a file nobody had fully checked, and a crash in the loader or the schema stage
escaped as a traceback. Now every stage is guarded and a crash is a ``rule-crashed``
error; the traceback goes to stderr only when ``KOPS_GITSYNC_DEBUG`` is set.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_gitsync.cli.main import main
from kops_gitsync.validate import Finding, validate_cluster
from kops_gitsync.validate.engine import read_cluster_folder
from kops_gitsync.validate.loader import load_object
from kops_gitsync.validate.rules.base import ClusterView

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "store" / "minimal-aws.example.com"
CLUSTER = "state/minimal-aws.example.com"


def example_docs() -> dict[str, Any]:
    docs = {}
    for key, raw in read_cluster_folder(EXAMPLE).items():
        doc, issues = load_object(key, raw)
        assert doc is not None and not issues
        docs[key] = doc.data
    return docs


def encode(docs: dict[str, Any]) -> dict[str, bytes]:
    return {key: yaml.safe_dump(data, sort_keys=False).encode() for key, data in docs.items()}


def run(docs: dict[str, Any]) -> list[Finding]:
    return validate_cluster(CLUSTER, encode(docs))


def crashed(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.rule == "rule-crashed"]


def nodes_bomb(view: ClusterView) -> list[Any]:
    """A buggy check: it trips over one particular InstanceGroup."""
    for name, ig in view.igs.items():
        if ig["spec"].get("maxSize") == 7:
            raise KeyError(f"surprise in {name}")
    return []


@pytest.fixture
def broken_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from kops_gitsync.validate import rules

    monkeypatch.setattr(rules, "CHECKS", (*rules.CHECKS, nodes_bomb))


def test_a_crashing_rule_is_an_error_on_the_file_that_tripped_it(broken_rule: None) -> None:
    docs = example_docs()
    docs["instancegroup/nodes"]["spec"]["maxSize"] = 7
    (finding,) = crashed(run(docs))
    assert finding.severity == "error"
    assert finding.path == f"{CLUSTER}/instancegroup/nodes"
    assert "nodes_bomb" in finding.message and "KeyError" in finding.message
    assert "\n" not in finding.message
    assert not crashed(run(example_docs())), "the check only crashes on maxSize 7"


def test_a_crash_in_the_schema_stage_is_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kops_gitsync.validate import schema

    def broken(kind: str, key: str, data: Any) -> list[Any]:
        raise TypeError("schema bug")

    monkeypatch.setattr(schema, "check_schema", broken)
    found = crashed(run(example_docs()))
    assert {f.path.rsplit("/", 2)[-1] for f in found} >= {"config", "nodes"}
    assert all(f.severity == "error" and "schema" in f.message for f in found)


def test_a_crash_in_the_loader_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from kops_gitsync.validate import loader

    def broken(text: str) -> list[Any]:
        raise ValueError("parser bug")

    docs = example_docs()
    monkeypatch.setattr(loader, "_compose_all", broken)
    found = run(docs)
    assert found and {f.rule for f in found} == {"rule-crashed"}
    assert all(f.severity == "error" for f in found)


@pytest.mark.parametrize(
    ("key", "path", "value"),
    [
        ("config", ("spec",), [1, 2]),
        ("config", ("spec", "subnets"), "x"),
        ("config", ("metadata",), [1]),
        ("config", ("spec", "etcdClusters"), [{"name": "main", "etcdMembers": "x"}]),
        ("config", ("spec", "networking"), {1: {}}),  # dropped by kops: no provider left
        ("instancegroup/nodes", ("spec", "maxSize"), "a"),
        ("instancegroup/nodes", ("spec",), "x"),
        ("instancegroup/nodes", ("spec", "subnets"), {"a": 1}),
        ("instancegroup/nodes", ("spec", "taints"), [None, 3, {"k": "v"}]),
    ],
)
def test_odd_types_are_findings_not_crashes(
    key: str, path: tuple[str, ...], value: Any
) -> None:
    docs = example_docs()
    target = docs[key]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    found = run(docs)
    assert any(f.severity == "error" for f in found)
    assert not crashed(found), crashed(found)


# --- the hook, in a real git repository -----------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _staged_cluster(tmp_path: Path, max_size: int) -> Path:
    repo = tmp_path / "review"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for key, raw in read_cluster_folder(EXAMPLE).items():
        target = repo / CLUSTER / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
    nodes = repo / CLUSTER / "instancegroup" / "nodes"
    nodes.write_text(nodes.read_text().replace("maxSize: 2", f"maxSize: {max_size}"))
    _git(repo, "add", "-A")
    return repo


@pytest.mark.parametrize("debug", [False, True])
def test_the_hook_fails_in_one_line_and_logs_the_traceback_on_request(
    broken_rule: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug: bool,
) -> None:
    repo = _staged_cluster(tmp_path, 7)
    monkeypatch.chdir(repo)
    if debug:
        monkeypatch.setenv("KOPS_GITSYNC_DEBUG", "1")
    status = main(["hook", "validate"])
    out, err = capsys.readouterr()
    assert status == 1
    lines = [line for line in out.splitlines() if "rule-crashed" in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"{CLUSTER}/instancegroup/nodes:")
    assert "nodes_bomb" in lines[0]
    assert "Traceback" not in out
    assert ("Traceback" in err and "surprise in nodes" in err) is debug


def test_the_hook_passes_when_the_rule_does_not_crash(
    broken_rule: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_staged_cluster(tmp_path, 3))
    assert main(["hook", "validate"]) == 0


def test_cli_json_reports_the_crash(
    broken_rule: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _staged_cluster(tmp_path, 7)
    assert main(["validate", "--format", "json", str(repo / CLUSTER)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in document["findings"]] == ["rule-crashed"]


# --- random input never escapes as an exception ---------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["Master", "Node", "aws", "gce", "10.0.0.0/16", "us-test-1a", "main",
                     "1.29.0", "kops.k8s.io/v1alpha2", "Private", "calico", "a=b:NoSchedule"]),
)
KEYS = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-5, max_value=5),
    st.none(),
    st.booleans(),
    st.sampled_from(["spec", "name", "subnets", "cidr", "zone", "type", "role", "maxSize",
                     "minSize", "etcdMembers", "instanceGroup", "networking", "kubeDNS"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)
EXAMPLE_DOCS = example_docs()


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


TARGETS = [(key, path) for key, doc in EXAMPLE_DOCS.items() for path in _paths(doc) if path]


def _mutated(targets: list[tuple[str, tuple[Any, ...], Any]]) -> dict[str, Any]:
    docs = json.loads(json.dumps(EXAMPLE_DOCS))
    for key, path, value in targets:
        holder = docs[key]
        for part in path[:-1]:
            if not isinstance(holder, dict | list):
                break
            try:
                holder = holder[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if isinstance(holder, dict) or (
                isinstance(holder, list) and isinstance(last, int) and last < len(holder)
            ):
                holder[last] = value
    return docs


FUZZ = settings(max_examples=150, deadline=2000, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _assert_sane(found: list[Finding], started: float) -> None:
    assert isinstance(found, list) and all(isinstance(f, Finding) for f in found)
    assert time.monotonic() - started < 2
    for finding in found:
        assert "\n" not in finding.message and finding.severity in ("error", "warning")


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(TARGETS), VALUES), min_size=1, max_size=3))
def test_mutated_fixture_never_raises_and_crashes_no_rule(
    changes: list[tuple[tuple[str, tuple[Any, ...]], Any]],
) -> None:
    docs = _mutated([(key, path, value) for (key, path), value in changes])
    started = time.monotonic()
    found = run(docs)
    _assert_sane(found, started)
    assert not crashed(found), crashed(found)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(TARGETS), VALUES), min_size=1, max_size=3),
       st.booleans())
def test_update_rules_on_mutated_versions_never_crash(
    changes: list[tuple[tuple[str, tuple[Any, ...]], Any]], mutate_previous: bool
) -> None:
    docs = _mutated([(key, path, value) for (key, path), value in changes])
    current, previous = (EXAMPLE_DOCS, docs) if mutate_previous else (docs, EXAMPLE_DOCS)
    started = time.monotonic()
    found = validate_cluster(CLUSTER, encode(current), encode(previous))
    _assert_sane(found, started)
    assert not crashed(found), crashed(found)


@FUZZ
@given(st.dictionaries(st.sampled_from(["config", "instancegroup/a", "instancegroup/b"]),
                       VALUES, min_size=1))
def test_random_documents_never_raise_and_always_find_something(docs: dict[str, Any]) -> None:
    started = time.monotonic()
    found = run(docs)
    _assert_sane(found, started)
    assert any(f.severity == "error" for f in found)
    assert not crashed(found), crashed(found)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_never_raise(raw: bytes) -> None:
    started = time.monotonic()
    found = validate_cluster(CLUSTER, {"config": raw, "instancegroup/nodes": raw})
    _assert_sane(found, started)
    assert any(f.severity == "error" for f in found)
    assert not crashed(found), crashed(found)
