"""End to end on S3: a fixture store in a moto bucket, pulled with the CLI, one InstanceGroup
edited in git, pushed with ``--yes``, and the bucket read back with boto3 (not through our
store): exactly one object changed, it carries the SSE kops would have set, and no lock
object is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from kops_gitsync.sync.policy import LOCK_KEY
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import git
from tests.servers.s3 import admin_client, new_bucket, s3_env

CLUSTER = "minimal-aws.example.com"
NODES = f"{CLUSTER}/instancegroup/nodes"


def fixture_objects(name: str) -> dict[str, bytes]:
    root = FIXTURE_STORES / name
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def bucket_objects(client: object, bucket: str, root: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket=bucket, Prefix=root
    ):
        for entry in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=entry["Key"])  # type: ignore[attr-defined]
            found[entry["Key"][len(root) :]] = body["Body"].read()
    return found


def cli(repo: Path, verb: str, *args: str) -> int:
    return main([verb, "--repo", str(repo), *args])


@pytest.mark.parametrize(("scheme", "root"), [("s3", ""), ("do", "kops/")])
def test_pull_edit_push_read_back(
    scheme: str,
    root: str,
    moto_server: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    original = fixture_objects("minimal-aws")
    for key, data in original.items():
        client.put_object(Bucket=bucket, Key=root + key, Body=data)
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"{scheme}://{bucket}/{root}")

    assert cli(repo, "pull") == 0
    mirrored = repo / "state" / NODES
    assert mirrored.read_bytes() == original[NODES]

    text = mirrored.read_text()
    assert "maxSize: 2" in text
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: allow five")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err

    after = bucket_objects(client, bucket, root)
    changed = {k for k in set(original) | set(after) if original.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES]
    assert LOCK_KEY not in after
    head = client.head_object(Bucket=bucket, Key=root + NODES)
    assert head.get("ServerSideEncryption") == ("AES256" if scheme == "s3" else None)

    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out
