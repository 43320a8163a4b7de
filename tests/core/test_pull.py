"""pull, end to end: real git, file:// copies of real kops stores, the CLI entry point."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.secretscan import scan
from kops_gitsync.sync.policy import Kind, classify
from tests.conftest import fixture_store_names
from tests.core.conftest import Run, git, snapshot

OBSERVED = "refs/kops-gitsync/observed/default"


def all_blobs(repo: Path) -> dict[str, bytes]:
    """Every blob reachable from any ref: what a clone of the repo would carry."""
    listing = git(repo, "rev-list", "--objects", "--all").split("\n")
    blobs = {}
    for line in listing:
        if not line.strip():
            continue
        sha = line.split()[0]
        kind = git(repo, "cat-file", "-t", sha).strip()
        if kind == "blob":
            blobs[sha] = subprocess.run(
                ["git", "cat-file", "blob", sha], cwd=repo, capture_output=True, check=True
            ).stdout
    return blobs


@pytest.mark.parametrize("name", fixture_store_names())
def test_pull_mirrors_store_minus_secrets_byte_for_byte(
    name: str, repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store(name)
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 0, result.err

    expected = {
        key: data
        for key, data in snapshot(store).items()
        if classify(key) not in (Kind.SECRET, Kind.BACKUP)
    }
    assert snapshot(repo / "state") == expected
    withheld = [k for k in snapshot(store) if classify(k) in (Kind.SECRET, Kind.BACKUP)]
    assert withheld, "every fixture holds keysets and secrets"

    for sha, data in all_blobs(repo).items():
        assert b"FAKE TEST KEY" not in data, sha
        assert not scan(data), sha
    message = git(repo, "log", "-1", "--format=%B", OBSERVED)
    secrets = sum(classify(k) is Kind.SECRET for k in withheld)
    backups = sum(classify(k) is Kind.BACKUP for k in withheld)
    assert f"Kept out of git (never mirrored): {backups} backup, {secrets} secret." in message
    assert "Kops-Gitsync-Operation: pull" in message


def test_mirror_is_a_valid_file_store_layout(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    """Nothing of ours inside the mirror: kops treats every */config as a cluster."""
    store = make_store("ha")
    cli("pull", "--state", f"file://{store}", cwd=repo)
    configs = sorted(
        p.relative_to(repo / "state").as_posix() for p in (repo / "state").rglob("config")
    )
    assert configs == ["ha.example.com/config"]
    assert not list((repo / "state").rglob(".*"))
    state = json.loads((repo / ".kops-gitsync" / "default.json").read_text())
    assert state["url"] == f"file://{store}"
    assert "ha.example.com/config" in state["objects"]
    assert all(classify(k) not in (Kind.SECRET, Kind.BACKUP) for k in state["objects"])


def test_incremental_pull_same_size_edit_add_delete(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    url = f"file://{store}"
    assert cli("pull", "--state", url, cwd=repo).code == 0
    cluster = store / "minimal-aws.example.com"
    nodes = cluster / "instancegroup" / "nodes"
    original = nodes.read_bytes()
    edited = original.replace(b"maxSize: 2", b"maxSize: 3")
    assert len(edited) == len(original) and edited != original
    nodes.write_bytes(edited)
    (cluster / "instancegroup" / "spot").write_bytes(
        original.replace(b"name: nodes", b"name: spot")
    )
    (cluster / "manifests" / "static" / "kube-apiserver-healthcheck.yaml").unlink()

    result = cli("pull", "--state", url, cwd=repo)
    assert result.code == 0, result.err
    assert "1 added, 1 modified, 1 deleted" in result.out
    assert "read 2" in result.out
    assert (repo / "state/minimal-aws.example.com/instancegroup/nodes").read_bytes() == edited
    assert (repo / "state/minimal-aws.example.com/instancegroup/spot").exists()
    assert not (repo / "state/minimal-aws.example.com/manifests/static").exists()
    message = git(repo, "log", "-1", "--format=%B", OBSERVED)
    assert "minimal-aws.example.com:\n" in message
    assert "  A instancegroup/spot" in message
    assert "  M instancegroup/nodes" in message
    assert "  D manifests/static/kube-apiserver-healthcheck.yaml" in message


def test_noop_pull_makes_no_commit(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    cli("pull", "--state", f"file://{store}", cwd=repo)
    refs_before = git(repo, "for-each-ref")
    head_before = git(repo, "rev-parse", "HEAD")
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 0
    assert "up to date" in result.out and "read 0" in result.out
    assert git(repo, "for-each-ref") == refs_before
    assert git(repo, "rev-parse", "HEAD") == head_before


def test_first_pull_into_empty_repo_fast_forwards(
    tmp_path: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    store = make_store("minimal_gce")
    assert cli("pull", "--state", f"file://{store}", cwd=repo).code == 0
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", OBSERVED)


def test_dirty_mirror_stops_merge_and_loses_nothing(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    url = f"file://{store}"
    cli("pull", "--state", url, cwd=repo)
    local = repo / "state/minimal-aws.example.com/instancegroup/nodes"
    local.write_text(local.read_text() + "# my uncommitted note\n")
    (store / "minimal-aws.example.com/config").write_text("# changed in the store\n")
    head = git(repo, "rev-parse", "HEAD")

    result = cli("pull", "--state", url, cwd=repo)
    assert result.code == 1
    assert "uncommitted changes" in result.err and "instancegroup/nodes" in result.err
    assert git(repo, "rev-parse", "HEAD") == head
    assert local.read_text().endswith("# my uncommitted note\n")
    observed_config = git(repo, "show", f"{OBSERVED}:state/minimal-aws.example.com/config")
    assert observed_config == "# changed in the store\n"

    git(repo, "commit", "-qam", "my note")
    assert cli("pull", "--state", url, cwd=repo).code == 0
    assert (repo / "state/minimal-aws.example.com/config").read_text() == "# changed in the store\n"


def test_merge_conflict_leaves_branch_as_it_was(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    url = f"file://{store}"
    cli("pull", "--state", url, cwd=repo)
    local = repo / "state/minimal-aws.example.com/instancegroup/nodes"
    local.write_text(local.read_text().replace("maxSize: 2", "maxSize: 4"))
    git(repo, "commit", "-qam", "git side")
    remote = store / "minimal-aws.example.com/instancegroup/nodes"
    remote.write_text(remote.read_text().replace("maxSize: 2", "maxSize: 9"))
    head = git(repo, "rev-parse", "HEAD")

    result = cli("pull", "--state", url, cwd=repo)
    assert result.code == 1
    assert "conflicts" in result.err and "instancegroup/nodes" in result.err
    assert git(repo, "rev-parse", "HEAD") == head
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert "maxSize: 9" in git(
        repo, "show", f"{OBSERVED}:state/minimal-aws.example.com/instancegroup/nodes"
    )


def test_secret_looking_content_outside_secret_paths_is_withheld(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    """kops copies cloud tokens into addon manifests (DO, Hetzner, OpenStack)."""
    store = make_store("minimal-aws")
    addon = store / "minimal-aws.example.com/addons/hcloud/k8s-1.22.yaml"
    addon.parent.mkdir(parents=True)
    addon.write_text("kind: Secret\nstringData:\n  HCLOUD_TOKEN: s3cr3tT0kenValue1234567890\n")
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 0, result.err
    assert "withheld 1" in result.out
    assert not (repo / "state/minimal-aws.example.com/addons/hcloud").exists()
    for data in all_blobs(repo).values():
        assert b"s3cr3tT0ken" not in data
