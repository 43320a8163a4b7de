"""``kops-gitsync diff`` and the semantic plan in ``push``, with real git and real stores:
a file:// copy of a fixture store, and the same store in a moto S3 bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.conftest import Run, cli, git, make_store, pulled  # noqa: F401 - fixtures
from tests.e2e.steps import CLUSTER, NODES
from tests.servers.s3 import admin_client, new_bucket, s3_env

CONFIG = f"{CLUSTER}/config"
MASTER = f"{CLUSTER}/instancegroup/master-us-test-1a"


def edit(repo: Path, key: str, old: str, new: str) -> None:
    path = repo / "state" / key
    text = path.read_text()
    assert old in text, (key, old)
    path.write_text(text.replace(old, new, 1))


def plan_json(run: Run) -> dict[str, object]:
    assert run.code == 0, run.err
    doc: dict[str, object] = json.loads(run.out)
    assert doc["schema_version"] == 1
    return doc


def changes(doc: dict[str, object]) -> dict[str, list[str]]:
    """key -> ["path: old -> new", ...] from a plan document."""
    out: dict[str, list[str]] = {}
    for store in doc["stores"]:  # type: ignore[attr-defined]
        for cluster in store["clusters"]:
            for obj in cluster["objects"]:
                out[obj["key"]] = [f"{c['path']}: {c.get('old')} -> {c.get('new')}"
                                   for c in obj["changes"]] or [obj["op"]]
    return out


def risk_codes(doc: dict[str, object]) -> set[str]:
    return {r["code"] for s in doc["stores"] for c in s["clusters"]  # type: ignore[attr-defined]
            for r in c["risks"]}


def test_diff_shows_what_push_would_write_and_push_shows_it_too(
    pulled: tuple[Path, Path], cli: Callable[..., Run]  # noqa: F811
) -> None:
    repo, _store = pulled
    assert "no changes" in cli("diff", cwd=repo).out
    edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    git(repo, "commit", "-qam", "nodes: five")

    text = cli("diff", cwd=repo)
    assert text.code == 0, text.err
    assert "~ InstanceGroup nodes" in text.out and "spec.maxSize: 2 -> 5" in text.out
    assert changes(plan_json(cli("diff", "--format", "json", cwd=repo))) == {
        NODES: ["spec.maxSize: 2 -> 5"]}

    dry = cli("push", cwd=repo)
    assert dry.code == 0, dry.err
    assert f"  ~ update {NODES}" in dry.out  # the object plan is still there
    assert "spec.maxSize: 2 -> 5" in dry.out
    doc = plan_json(cli("push", "--format", "json", cwd=repo))
    (entry,) = doc["stores"]  # type: ignore[misc]
    assert entry["push"]["actions"] == [{"op": "update", "key": NODES}]
    assert entry["push"]["dry_run"] is True
    assert changes(doc) == {NODES: ["spec.maxSize: 2 -> 5"]}

    applied = plan_json(cli("push", "--yes", "--format", "json", cwd=repo))
    assert applied["stores"][0]["push"]["written"] == [NODES]  # type: ignore[index]
    assert "no changes" in cli("diff", cwd=repo).out  # nothing pending any more


def test_diff_of_a_range_flags_prune_and_etcd_and_ignores_what_main_did_since(
    pulled: tuple[Path, Path], cli: Callable[..., Run]  # noqa: F811
) -> None:
    repo, _store = pulled
    git(repo, "switch", "-qc", "feature")
    git(repo, "rm", "-q", f"state/{MASTER}")
    edit(repo, CONFIG, "kubernetesVersion: v1.34.0", "kubernetesVersion: v1.35.0")
    edit(repo, CONFIG, "    name: events", "    name: events\n  - name: cilium\n"
                                           "    etcdMembers: []")
    git(repo, "commit", "-qam", "feature")
    git(repo, "switch", "-q", "main")
    edit(repo, NODES, "maxSize: 2", "maxSize: 3")  # main moves on after the branch point
    git(repo, "commit", "-qam", "main: three")

    three_dots = plan_json(cli("diff", "--format", "json", "main...feature", cwd=repo))
    assert set(changes(three_dots)) == {CONFIG, MASTER}
    assert risk_codes(three_dots) == {"kubernetes-version", "etcd-clusters",
                                      "instancegroup-deleted", "control-plane"}
    two_dots = plan_json(cli("diff", "--format", "json", "main..feature", cwd=repo))
    assert set(changes(two_dots)) == {CONFIG, MASTER, NODES}
    assert changes(plan_json(cli("diff", "--format", "json", "main", "feature", cwd=repo))) \
        == changes(two_dots)
    markdown = cli("diff", "--format", "markdown", "main...feature", cwd=repo)
    assert markdown.out.startswith("<!-- kops-gitsync-plan -->")
    assert "**instancegroup-deleted**" in markdown.out
    bad = cli("diff", "nosuchbranch..feature", cwd=repo)
    assert bad.code == 1 and "unknown revision 'nosuchbranch'" in bad.err


def test_diff_needs_no_store_and_imports_no_cloud_sdk(
    pulled: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """CI has no store credentials: diff reads git only, and stays light to start."""
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    edit(repo, NODES, "machineType: t2.medium", "machineType: t3.large")  # strings are scanned
    git(repo, "commit", "-qam", "nodes: five")
    os.rename(store, store.with_name("gone"))  # the store is unreachable now
    monkeypatch.delenv("KOPS_STATE_STORE")
    probe = (
        "import sys\nfrom kops_gitsync.cli.main import main\n"
        "code = main(['diff', '--format', 'json'])\n"
        "heavy = sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'google', 'openstack', 'oss2', 'kubernetes', 'detect_secrets'))\n"
        "print('HEAVY', set(heavy), file=sys.stderr)\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True,
                          text=True, env=os.environ.copy(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert changes(json.loads(done.stdout)) == {NODES: [
        "spec.machineType: t2.medium -> t3.large", "spec.maxSize: 2 -> 5"]}
    assert "HEAVY set()" in done.stderr


def test_status_and_pull_speak_json(
    pulled: tuple[Path, Path], cli: Callable[..., Run]  # noqa: F811
) -> None:
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    git(repo, "commit", "-qam", "nodes: five")
    status = plan_json(cli("status", "--format", "json", cwd=repo))
    (entry,) = status["stores"]  # type: ignore[misc]
    assert entry["git_ahead"] == [NODES] and entry["branch"] == "main"
    (store / CONFIG).write_text((store / CONFIG).read_text() + "\n")
    pulled_doc = plan_json(cli("pull", "--format", "json", cwd=repo))
    (pull_entry,) = pulled_doc["stores"]  # type: ignore[misc]
    assert pull_entry["modified"] == [CONFIG] and pull_entry["merged"] is True


def test_push_json_names_the_store_that_failed(
    pulled: tuple[Path, Path], cli: Callable[..., Run]  # noqa: F811
) -> None:
    repo, _store = pulled
    git(repo, "switch", "-qc", "unreviewed")
    edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    git(repo, "commit", "-qam", "nodes: five")
    run = cli("push", "--format", "json", cwd=repo)
    assert run.code == 1 and "not approved" in run.err
    doc = json.loads(run.out)
    assert doc["stores"][0]["store"] == "default" and "not approved" in doc["stores"][0]["error"]


def test_on_s3_push_plans_fields_and_diff_runs_without_credentials(
    moto_server: str, repo: Path, cli: Callable[..., Run],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import FIXTURE_STORES

    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    root = FIXTURE_STORES / "minimal-aws"
    for path in root.rglob("*"):
        if path.is_file():
            client.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(),
                              Body=path.read_bytes())
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{bucket}")
    assert cli("pull", cwd=repo).code == 0
    edit(repo, CONFIG, "configBase: memfs://", "configBase: s3://")
    git(repo, "commit", "-qam", "move configBase")

    dry = cli("push", cwd=repo)
    assert dry.code == 0, dry.err
    assert f"  ~ update {CONFIG}" in dry.out and "RISK config-base" in dry.out

    for name in s3_env(moto_server):
        monkeypatch.delenv(name)
    monkeypatch.delenv("KOPS_STATE_STORE")
    doc = plan_json(cli("diff", "--format", "json", cwd=repo))
    assert risk_codes(doc) == {"config-base"}
    assert doc["stores"][0]["url"] == f"s3://{bucket}"  # type: ignore[index]


def test_diff_reports_every_store_when_one_cannot_be_compared(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]  # noqa: F811
) -> None:
    """Two stores, one never pulled: the other's plan is still shown, and the exit is 1."""
    store = make_store("minimal-aws")
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n  - name: a\n    state: file://{store}\n"
        f"  - name: b\n    state: file://{store}-missing\n")
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "two stores")
    assert cli("pull", "--store", "a", cwd=repo).code == 0
    edit(repo, f"a/{NODES}", "maxSize: 2", "maxSize: 5")
    git(repo, "commit", "-qam", "nodes: five")
    run = cli("diff", "--format", "json", cwd=repo)
    assert run.code == 1
    doc = json.loads(run.out)
    by_store = {s["store"]: s for s in doc["stores"]}
    assert "never been pulled" in by_store["b"]["error"]
    assert changes({"stores": [by_store["a"]]}) == {NODES: ["spec.maxSize: 2 -> 5"]}
    text = cli("diff", cwd=repo)
    assert text.code == 1 and "spec.maxSize: 2 -> 5" in text.out and "never been pulled" in text.out


def test_hostile_names_and_content_in_a_range_reach_no_terminal(
    repo: Path, cli: Callable[..., Run]  # noqa: F811
) -> None:
    """A commit under review may hold any file name and any bytes: diff still answers, in
    every format, with no raw escape sequence and valid JSON."""
    folder = repo / "state" / "c.example.com" / "instancegroup"
    folder.mkdir(parents=True)
    git(repo, "switch", "-qc", "evil")
    names = [b"\x1b[2Jwipe", b"bad\xffutf8", b"deep"]
    os.makedirs(os.fsencode(folder), exist_ok=True)
    for name, data in zip(names, [b"kind: InstanceGroup\nspec: {image: \"\\e]0;x\\a\"}\n",
                                  b"\xff\xfe binary", b"a: " + b"[" * 5000], strict=True):
        with open(os.fsencode(folder) + b"/" + name, "wb") as handle:
            handle.write(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "evil")
    for fmt in ("text", "markdown", "json"):
        run = cli("diff", "--format", fmt, "main..evil", cwd=repo)
        assert run.code == 0, run.err
        assert "\x1b" not in run.out and "\x07" not in run.out, fmt
        if fmt == "json":
            keys = {o["key"] for o in changes_objects(json.loads(run.out))}
            assert len(keys) == 3


def changes_objects(doc: dict[str, object]) -> list[dict[str, object]]:
    return [o for s in doc["stores"] for c in s["clusters"]  # type: ignore[attr-defined]
            for o in c["objects"]]
