"""``kops-gitsync validate``: paths of each kind, output formats, exit status, --previous."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from tests.conftest import FIXTURE_STORES, INVALID_FIXTURES

INVALID = INVALID_FIXTURES


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["validate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_store_subtree_that_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, str(FIXTURE_STORES / "ha"))
    assert (status, out) == (0, "")
    assert "1 cluster(s), 0 error(s)" in err


def test_text_findings_are_path_line_column_rule_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID)
    status, out, _ = _run(capsys, "02-ig-subnet-not-in-cluster/minimal-aws.example.com")
    assert status == 1
    assert out.startswith(
        "02-ig-subnet-not-in-cluster/minimal-aws.example.com/instancegroup/nodes:17:5:"
        " ig-subnet-exists: subnet 'us-test-1b'"
    )


def test_single_file_reports_only_its_own_findings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID / "11-etcd-member-unknown-instancegroup")
    status, out, _ = _run(capsys, "minimal-aws.example.com/instancegroup/master-us-test-1a")
    assert status == 1
    assert [line.split(": ")[1] for line in out.splitlines()] == ["etcd-control-plane-missing"]
    status, out, _ = _run(capsys, "minimal-aws.example.com/instancegroup/nodes")
    assert (status, out) == (0, "")


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--format", "json",
                          str(INVALID / "16-subnet-cidr-host-bits-set"), str(FIXTURE_STORES / "ha"))
    document = json.loads(out)
    assert status == 1
    assert (document["errors"], document["warnings"], document["clusters"]) == (1, 0, 2)
    (finding,) = document["findings"]
    assert set(finding) == {"path", "line", "column", "rule", "message", "severity"}
    assert finding["rule"] == "cidr-host-bits"


def test_warnings_alone_exit_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cluster = tmp_path / "minimal-aws.example.com"
    shutil.copytree(FIXTURE_STORES / "minimal-aws" / cluster.name, cluster)
    nodes = cluster / "instancegroup" / "nodes"
    nodes.write_text(nodes.read_text().replace("    kops.k8s.io/cluster: minimal-aws.example.com\n",
                                               "    team: a\n"))
    status, out, _ = _run(capsys, str(cluster))
    assert status == 0
    assert "ig-cluster-label" in out and out.rstrip().endswith("(warning)")


def test_previous_enables_update_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORES / "ha", store)
    config = store / "ha.example.com" / "config"
    text = config.read_text()
    config.write_text(text[: text.index("  - etcdMembers:", text.index("name: main"))]
                      + text[text.index("  iam:"):])
    status, out, _ = _run(capsys, str(store))
    assert "update-etcd-removed" not in out
    status, out, _ = _run(capsys, str(store), "--previous", str(FIXTURE_STORES / "ha"))
    assert status == 1 and "update-etcd-removed" in out
    status, out, _ = _run(capsys, str(store / "ha.example.com"),
                          "--previous", str(FIXTURE_STORES / "ha" / "ha.example.com"))
    assert status == 1 and "update-etcd-removed" in out


def test_no_path_validates_the_configured_stores(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".kops-gitsync.yaml").write_text(
        "stores:\n- name: prod\n  path: mirror/prod\n- name: dev\n"
    )
    shutil.copytree(FIXTURE_STORES / "minimal-aws", tmp_path / "mirror" / "prod")
    shutil.copytree(INVALID / "03-ig-minsize-greater-than-maxsize", tmp_path / "state" / "dev")
    monkeypatch.chdir(tmp_path / "mirror")
    status, out, err = _run(capsys)
    assert status == 1
    assert out.startswith("../state/dev/minimal-aws.example.com/instancegroup/nodes:14:12:"
                          " ig-size-order:")
    assert "2 cluster(s), 1 error(s)" in err


def test_unmirrored_store_is_a_note_not_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(capsys)
    assert (status, out) == (0, "")
    assert "not mirrored yet" in err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "no such file or folder"),
        (lambda p: p, "no kops cluster here"),
        (lambda p: (p / "notes.yaml").write_text("a: 1\n") and p / "notes.yaml",
         "not a kops object path"),
    ],
)
def test_bad_paths_are_clear_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    status, _, err = _run(capsys, str(path))
    assert status == 1
    assert message in err


def test_outside_a_repository_without_paths(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(capsys)
    assert status == 1 and "not inside a git repository" in err
