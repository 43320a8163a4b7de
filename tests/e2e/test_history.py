"""``pull --history`` on real servers: moto S3 with versioning on, fake-gcs-server with
object versioning (its in-memory backend keeps generations and lists them with
``versions=true``; its filesystem backend refuses versioned buckets, so the memory one is
used), and the stores that keep no versions at all.

The store's past is written with boto3 / google-cloud-storage (never through kops-gitsync):
a cluster created, its config edited twice, an InstanceGroup deleted, a version of an
intent object that holds a private key (the content scanner must withhold it), and the
secrets kops keeps (never in git under the default policy).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_STORES
from tests.core.conftest import Run, cli, git
from tests.servers.s3 import admin_client, new_bucket, s3_env

CLUSTER = "minimal-aws.example.com"
CONFIG = f"{CLUSTER}/config"
NODES = f"{CLUSTER}/instancegroup/nodes"
__all__ = ["cli"]
HOOK = f"{CLUSTER}/clusteraddons/default"
OBSERVED = "refs/kops-gitsync/observed/default"
PEM = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----\n"


def fixture_objects() -> dict[str, bytes]:
    root = FIXTURE_STORES / "minimal-aws"
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_past(put: Callable[[str, bytes], None], delete: Callable[[str], None]) -> list[float]:
    """Four moments, at least a second apart; returns a time inside each gap."""
    gaps = []
    objects = fixture_objects()
    for key, data in objects.items():  # 1: the cluster is created
        put(key, data)
    gaps.append(_pause())
    config_v2 = objects[CONFIG].replace(b"Version: v1.34.0", b"Version: v1.34.1")
    put(CONFIG, config_v2)  # 2: an upgrade
    put(HOOK, PEM)  # ... and an intent object that holds a private key
    gaps.append(_pause())
    put(CONFIG, config_v2.replace(b"v1.34.1", b"v1.34.2"))  # 3: another upgrade
    put(HOOK, b"clean again\n")
    delete(NODES)  # the nodes InstanceGroup is deleted
    return gaps


def _pause() -> float:
    time.sleep(1.1)
    middle = time.time()
    time.sleep(1.1)
    return middle


def observed_log(repo: Path) -> list[tuple[int, str]]:
    out = git(repo, "log", "--format=%at %ct %s", OBSERVED)
    lines = []
    for line in out.splitlines():
        author, committer, subject = line.split(" ", 2)
        assert author == committer
        lines.append((int(author), subject))
    return lines[::-1]


def all_paths(repo: Path) -> set[str]:
    return set(git(repo, "log", "--format=", "--name-only", OBSERVED).split())


def check_imported(repo: Path, cli: Callable[..., Run], versions: list[tuple[str, float]]) -> None:
    run = cli("pull", "--history", cwd=repo)
    assert run.code == 0, run.err
    assert "imported" in run.out and "up to date" in run.out  # the pull after reads nothing new
    log = observed_log(repo)
    mirrored = {t for key, t in versions if not any(
        part in key for part in ("/pki/private/", "/secrets/", "/backups/"))}
    assert [t for t, _ in log] == sorted({int(t) for t in mirrored})
    # the config's three versions, in order, with the store's timestamps
    history = git(repo, "log", "--format=%at", "-p", OBSERVED, "--", f"state/{CONFIG}")
    assert history.count("+  kubernetesVersion:") == 3
    assert "v1.34.2" in (repo / "state" / CONFIG).read_text()
    assert not (repo / "state" / NODES).exists()
    assert git(repo, "show", f"{OBSERVED}~1:state/{NODES}")  # it existed before
    # no secret ever entered git: by key (pki/private, secrets/) nor by content
    paths = all_paths(repo)
    assert not [p for p in paths if "/pki/private/" in p or "/secrets/" in p]
    assert "PRIVATE KEY" not in git(repo, "log", "-p", OBSERVED)
    assert "secret by content" in run.err
    # idempotent
    again = cli("pull", "--history", cwd=repo)
    assert again.code == 0 and "already imported" in again.out, again.err
    assert observed_log(repo) == log


@pytest.fixture
def versioned_bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{bucket}")
    return client, bucket


def s3_versions(client: Any, bucket: str) -> list[tuple[str, float]]:
    answer = client.list_object_versions(Bucket=bucket)
    return [(v["Key"], v["LastModified"].timestamp())
            for v in answer.get("Versions", []) + answer.get("DeleteMarkers", [])]


def test_s3_history(repo: Path, cli: Callable[..., Run], versioned_bucket: tuple[Any, str]) -> None:
    client, bucket = versioned_bucket
    write_past(lambda k, d: client.put_object(Bucket=bucket, Key=k, Body=d),
               lambda k: client.delete_object(Bucket=bucket, Key=k))
    check_imported(repo, cli, s3_versions(client, bucket))


def test_s3_history_since(
    repo: Path, cli: Callable[..., Run], versioned_bucket: tuple[Any, str]
) -> None:
    client, bucket = versioned_bucket
    gaps = write_past(lambda k, d: client.put_object(Bucket=bucket, Key=k, Body=d),
                      lambda k: client.delete_object(Bucket=bucket, Key=k))
    since = datetime.datetime.fromtimestamp(gaps[1], datetime.UTC).isoformat()
    run = cli("pull", "--history", "--since", since, cwd=repo)
    assert run.code == 0, run.err
    log = observed_log(repo)
    # the store as it was at --since (v1.34.1), then the one later moment (v1.34.2)
    assert len(log) == 2
    assert int(gaps[0]) <= log[0][0] <= gaps[1]  # dated with the last change before --since
    first = git(repo, "show", f"{OBSERVED}~1:state/{CONFIG}")
    assert "v1.34.1" in first
    assert git(repo, "show", f"{OBSERVED}~1:state/{NODES}")


def test_history_after_a_plain_pull_is_refused(
    repo: Path, cli: Callable[..., Run], versioned_bucket: tuple[Any, str]
) -> None:
    client, bucket = versioned_bucket
    for key, data in fixture_objects().items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    assert cli("pull", cwd=repo).code == 0
    before = git(repo, "rev-parse", OBSERVED)
    run = cli("pull", "--history", cwd=repo)
    assert run.code == 1
    assert "already has an observed history" in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert git(repo, "rev-parse", OBSERVED) == before


def test_unversioned_bucket_and_file_store_say_so(
    repo: Path, cli: Callable[..., Run], moto_server: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    client.put_object(Bucket=bucket, Key=CONFIG, Body=fixture_objects()[CONFIG])
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{bucket}")
    run = cli("pull", "--history", cwd=repo)
    assert run.code == 1 and "keeps no versions (versioning was never enabled)" in run.err
    assert git(repo, "for-each-ref", OBSERVED) == ""
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{tmp_path}")
    run = cli("pull", "--history", cwd=repo)
    assert run.code == 1 and "this store keeps no versions" in run.err, run.err
    run = cli("pull", "--since", "2026-01-01", cwd=repo)
    assert run.code == 1 and "add --history" in run.err
    run = cli("pull", "--history", "--since", "yesterday", cwd=repo)
    assert run.code == 1 and "not a date" in run.err


def test_gcs_history(
    repo: Path, cli: Callable[..., Run], fake_gcs_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.gcs import admin_client as gcs_client

    client = gcs_client(fake_gcs_server)
    name = f"kgs-history-{time.time_ns()}"
    bucket = client.bucket(name)
    bucket.versioning_enabled = True
    bucket = client.create_bucket(bucket)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server)
    monkeypatch.setenv("KOPS_STATE_STORE", f"gs://{name}")
    write_past(lambda k, d: bucket.blob(k).upload_from_string(d),
               lambda k: bucket.blob(k).delete())
    versions = []
    for page in client._http.get(f"{fake_gcs_server}/storage/v1/b/{name}/o?versions=true"
                                 ).json()["items"]:
        created = datetime.datetime.fromisoformat(page["timeCreated"].replace("Z", "+00:00"))
        versions.append((page["name"], created.timestamp()))
        if page["name"] == NODES and "timeDeleted" in page:
            deleted = datetime.datetime.fromisoformat(page["timeDeleted"].replace("Z", "+00:00"))
            versions.append((NODES, deleted.timestamp()))
    client.close()
    check_imported(repo, cli, versions)
