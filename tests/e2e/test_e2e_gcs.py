"""End to end on GCS: a fixture store in a fake-gcs-server bucket, pulled with the CLI, one
InstanceGroup edited in git, pushed with ``--yes``, and the bucket read back with
google-cloud-storage (not through our store): exactly one object changed, its generation
moved on, and no lock object is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.core.conftest import git
from tests.e2e.steps import NODES, cli
from tests.e2e.test_e2e_s3 import fixture_objects
from tests.servers.gcs import admin_client, new_bucket

ROOT = "clusters/"


def bucket_objects(client: object, bucket: str) -> dict[str, tuple[bytes, int]]:
    found: dict[str, tuple[bytes, int]] = {}
    for blob in client.list_blobs(bucket, prefix=ROOT):  # type: ignore[attr-defined]
        found[blob.name[len(ROOT) :]] = (blob.download_as_bytes(), blob.generation)
    return found


def test_pull_edit_push_read_back(
    fake_gcs_server: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = admin_client(fake_gcs_server)
    bucket_name = new_bucket(fake_gcs_server)
    bucket = client.bucket(bucket_name)
    original = fixture_objects("minimal-aws")
    for key, data in original.items():
        bucket.blob(ROOT + key).upload_from_string(data)
    before = bucket_objects(client, bucket_name)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server)
    monkeypatch.setenv("KOPS_STATE_STORE", f"gs://{bucket_name}/{ROOT}")

    assert cli(repo, "pull") == 0
    mirrored = repo / "state" / NODES
    assert mirrored.read_bytes() == original[NODES]
    text = mirrored.read_text()
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: allow five")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err

    after = bucket_objects(client, bucket_name)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES][0]
    assert after[NODES][1] != before[NODES][1]
    assert LOCK_KEY not in after

    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out
    client.close()
