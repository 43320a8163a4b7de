"""End to end on oss:// (the OSS double, which checks oss2's signatures): a fixture store
uploaded with oss2, pulled with the CLI, one InstanceGroup edited in git, pushed with
``--yes``, and the bucket read back with oss2 (not through our store): exactly that object
changed, its ETag is the upper-case MD5 of the new bytes, and no lock object is left."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import oss2
import pytest

from kops_gitsync.cli.main import main
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.sync.pull import pull
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import git, repo, snapshot
from tests.doubles.oss_double import OssDouble
from tests.servers.oss import ACCESS_KEY_ID, ACCESS_KEY_SECRET, new_bucket, oss_env

__all__ = ["repo"]  # the review-repository fixture, shared with tests/core

CLUSTER = "minimal-aws.example.com"
NODES = f"{CLUSTER}/instancegroup/nodes"


def bucket_objects(bucket: oss2.Bucket, root: str) -> dict[str, bytes]:
    return {
        info.key[len(root):]: bucket.get_object(info.key).read()
        for info in oss2.ObjectIteratorV2(bucket, prefix=root)
    }


def cli(repo: Path, verb: str, *args: str) -> int:
    return main([verb, "--repo", str(repo), *args])


@pytest.mark.parametrize("root", ["", "kops/"])
def test_pull_edit_push_read_back(
    root: str, oss_double: OssDouble, repo: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    name = new_bucket(oss_double)
    bucket = oss2.Bucket(oss2.Auth(ACCESS_KEY_ID, ACCESS_KEY_SECRET), oss_double.endpoint, name)
    original = snapshot(FIXTURE_STORES / "minimal-aws")
    for key, data in original.items():
        bucket.put_object(root + key, data)
    for variable, value in oss_env(oss_double).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"oss://{name}/{root}")

    assert cli(repo, "pull") == 0
    mirrored = repo / "state" / NODES
    assert mirrored.read_bytes() == original[NODES]

    text = mirrored.read_text()
    assert "maxSize: 2" in text
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: allow five")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err

    after = bucket_objects(bucket, root)
    changed = {k for k in set(original) | set(after) if original.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES]
    assert LOCK_KEY not in after
    assert bucket.head_object(root + NODES).etag == hashlib.md5(after[NODES]).hexdigest().upper()

    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out

    # A no-op pull costs the listing page and nothing else: no GET, no HEAD.
    (context,) = open_contexts(repo, None, None, dict(os.environ))
    try:
        assert pull(context).observed_commit is None
        counts = context.store.request_counts  # type: ignore[attr-defined]
        assert counts == {"LIST": 1}  # a no-op pull: one listing page, nothing else
    finally:
        context.close()
