"""``kops-gitsync restore`` on real servers: the disaster-recovery round trip (pull with
``secrets: encrypt`` from a moto bucket, delete the bucket, restore from git into a new
bucket: every object byte-equal, secrets included), one cluster into a file:// store,
conditional writes and --force, and the attack cases (a tampered copy, a wrong or missing
identity) that must write nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.backup.crypt import copy_path
from tests.core.conftest import git, make_store, snapshot
from tests.e2e.backup_steps import configure, fill_bucket, fixture_objects, keygen, secrets_of
from tests.e2e.steps import cli
from tests.e2e.test_e2e_s3 import bucket_objects
from tests.servers.s3 import admin_client, new_bucket, s3_env

__all__ = ["make_store"]  # the file:// fixture-store factory of tests/core
pytestmark = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("pyrage") is None,
    reason="pyrage is not installed (pip install 'kops-gitsync[age]')")


@pytest.fixture
def backed_up(
    moto_server: str, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[object, str, dict[str, bytes], Path]:
    """A moto bucket holding two kops clusters, pulled with secrets: encrypt."""
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    objects = {**fixture_objects("ha"), **fixture_objects("minimal-aws")}
    fill_bucket(client, bucket, objects)
    identity, public = keygen(tmp_path)
    configure(repo, f"s3://{bucket}", public)
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    return client, bucket, objects, identity


def _delete_bucket(client: object, bucket: str) -> None:
    for key in bucket_objects(client, bucket, ""):
        client.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    client.delete_bucket(Bucket=bucket)  # type: ignore[attr-defined]


def test_bucket_deleted_restore_into_a_new_bucket(
    backed_up: tuple[object, str, dict[str, bytes], Path], moto_server: str, repo: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    client, bucket, objects, identity = backed_up
    _delete_bucket(client, bucket)
    target = new_bucket(moto_server)
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    capsys.readouterr()

    assert cli(repo, "restore", "--to", f"s3://{target}") == 0  # the plan only
    out = capsys.readouterr().out
    assert "dry run" in out and "+ create" in out
    assert bucket_objects(client, target, "") == {}
    for data in secrets_of(objects).values():  # plans show fingerprints, never values
        assert data.decode(errors="replace")[:40] not in out

    assert cli(repo, "restore", "--to", f"s3://{target}", "--yes") == 0, capsys.readouterr().err
    assert "read back and compared" in capsys.readouterr().out
    assert bucket_objects(client, target, "") == objects  # byte-equal, secrets included

    # a second run is a no-op: everything is already there
    assert cli(repo, "restore", "--to", f"s3://{target}", "--yes") == 0
    assert "nothing to write" in capsys.readouterr().out


def test_bucket_recreated_restore_then_pull_is_up_to_date(
    backed_up: tuple[object, str, dict[str, bytes], Path], repo: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The runbook: same bucket name, default --to (the store's own URL), then pull."""
    client, bucket, objects, identity = backed_up
    _delete_bucket(client, bucket)
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    assert cli(repo, "restore", "--yes") == 0, capsys.readouterr().err
    assert bucket_objects(client, bucket, "") == objects
    capsys.readouterr()
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    assert "up to date" in capsys.readouterr().out


def test_one_cluster_into_a_file_store_and_force(
    backed_up: tuple[object, str, dict[str, bytes], Path], repo: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _client, _bucket, objects, identity = backed_up
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    folder = tmp_path / "restored"
    folder.mkdir()
    cluster = "ha.example.com"
    config_key = f"{cluster}/config"
    (folder / cluster).mkdir()
    (folder / config_key).write_bytes(b"a bad kops replace\n")
    capsys.readouterr()
    url = f"file://{folder}"

    assert cli(repo, "restore", "--to", url, "--cluster", cluster, "--yes") == 1
    err = capsys.readouterr().err
    assert "--force" in err and config_key in err and "Traceback" not in err
    assert (folder / config_key).read_bytes() == b"a bad kops replace\n"  # nothing written
    assert len(snapshot(folder)) == 1

    assert cli(repo, "restore", "--to", url, "--cluster", cluster, "--yes",
               "--force", config_key) == 0, capsys.readouterr().err
    wanted = {k: v for k, v in objects.items() if k.startswith(cluster + "/")}
    got = {k: v for k, v in snapshot(folder).items() if not k.startswith(".kops-gitsync")}
    assert got == wanted

    assert cli(repo, "restore", "--to", url, "--cluster", "nope.example.com") == 1
    assert "no cluster 'nope.example.com'" in capsys.readouterr().err
    assert cli(repo, "restore", "--to", f"file://{repo}/state", "--yes") == 1
    assert "inside the repository" in capsys.readouterr().err


def _tamper(repo: Path, key: str, data: bytes) -> None:
    path = repo / copy_path("prod", key)
    path.write_bytes(data)
    git(repo, "commit", "-qam", "tamper", "--no-verify")


@pytest.mark.parametrize("damage", ["flipped", "truncated", "plaintext"])
def test_tampered_copy_writes_nothing(
    damage: str, backed_up: tuple[object, str, dict[str, bytes], Path], repo: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _client, _bucket, objects, identity = backed_up
    key = next(iter(sorted(secrets_of(objects))))
    sealed = (repo / copy_path("prod", key)).read_bytes()
    bad = {"flipped": sealed[:-5] + bytes([sealed[-5] ^ 1]) + sealed[-4:],
           "truncated": sealed[: len(sealed) // 2],
           "plaintext": objects[key]}[damage]
    _tamper(repo, key, bad)
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    folder = tmp_path / "target"
    folder.mkdir()
    capsys.readouterr()
    assert cli(repo, "restore", "--to", f"file://{folder}", "--yes") == 1
    err = capsys.readouterr().err
    assert copy_path("prod", key) in err and "nothing was written" in err
    assert "Traceback" not in err
    assert snapshot(folder) == {}


def test_wrong_or_missing_identity(
    backed_up: tuple[object, str, dict[str, bytes], Path], repo: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _client, _bucket, objects, _identity = backed_up
    folder = tmp_path / "target"
    folder.mkdir()
    url = f"file://{folder}"
    wrong, _public = keygen(tmp_path, "wrong.txt")
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(wrong))
    capsys.readouterr()
    assert cli(repo, "restore", "--to", url, "--yes") == 1
    err = capsys.readouterr().err
    assert "cannot be decrypted with the identity" in err and "Traceback" not in err
    assert snapshot(folder) == {}

    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(tmp_path / "absent.txt"))
    assert cli(repo, "restore", "--to", url, "--yes") == 1
    err = capsys.readouterr().err
    assert "absent.txt" in err and "--partial" in err and "Traceback" not in err
    for key in secrets_of(objects):  # every secret named, exactly
        assert key in err
    assert snapshot(folder) == {}

    monkeypatch.delenv("KOPS_GITSYNC_AGE_IDENTITY")
    assert cli(repo, "restore", "--to", url, "--yes", "--partial") == 0
    restored = snapshot(folder)
    assert not set(secrets_of(objects)) & set(restored)
    assert {k: v for k, v in objects.items() if k not in secrets_of(objects)} == {
        k: v for k, v in restored.items() if not k.startswith(".kops-gitsync")}


def test_without_encryption_restore_names_the_private_keysets(
    repo: Path, make_store: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = make_store("minimal-aws")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{store}")
    assert cli(repo, "pull") == 0
    folder = tmp_path / "target"
    folder.mkdir()
    capsys.readouterr()
    assert cli(repo, "restore", "--to", f"file://{folder}") == 0
    out = capsys.readouterr().out
    assert "cannot be restored from git" in out
    for name in ("kubernetes-ca", "service-account", "etcd-peers-ca-events",
                 "etcd-manager-ca-main"):  # named after the Cluster's etcd clusters
        assert f"minimal-aws.example.com/pki/private/{name}/keyset.yaml" in out
    assert "minimal-aws.example.com/secrets/*" in out
