"""End to end on S3: a fixture store in a moto bucket, pulled with the CLI, one InstanceGroup
edited in git, pushed with ``--yes``, and the bucket read back with boto3 (not through our
store): exactly one object changed, it carries the SSE kops would have set, and no lock
object is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURE_STORES
from tests.core.conftest import git
from tests.e2e.steps import (
    NODES,
    assert_next_pull_is_up_to_date,
    assert_only_the_edit_landed,
    pull_edit_push,
)
from tests.servers.s3 import admin_client, new_bucket, s3_env


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

    pull_edit_push(repo, original, capsys)

    after = bucket_objects(client, bucket, root)
    assert_only_the_edit_landed(original, after)
    head = client.head_object(Bucket=bucket, Key=root + NODES)
    assert head.get("ServerSideEncryption") == ("AES256" if scheme == "s3" else None)
    # every write is traceable to its review, and typed like kops' own writes
    pushed = git(repo, "rev-parse", "main~1").strip()  # the edit (main is the pull merge)
    assert head["Metadata"]["kops-gitsync-branch"] == "main"
    assert head["Metadata"]["kops-gitsync-commit"] in (pushed, git(repo, "rev-parse",
                                                                     "main").strip())
    assert head["ContentType"] == "application/octet-stream"

    assert_next_pull_is_up_to_date(repo, capsys)
