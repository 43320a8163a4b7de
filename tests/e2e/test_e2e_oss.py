"""End to end on oss:// (the OSS double, which checks oss2's signatures): a fixture store
uploaded with oss2, pulled with the CLI, one InstanceGroup edited in git, pushed with
``--yes``, and the bucket read back with oss2 (not through our store): exactly that object
changed, its ETag is the upper-case MD5 of the new bytes, and no lock object is left."""

from __future__ import annotations

import hashlib
from pathlib import Path

import oss2
import pytest

from tests.conftest import FIXTURE_STORES
from tests.core.conftest import repo, snapshot
from tests.doubles.oss_double import OssDouble
from tests.e2e.steps import (
    NODES,
    assert_next_pull_is_up_to_date,
    assert_noop_pull_lists_once,
    assert_only_the_edit_landed,
    pull_edit_push,
)
from tests.servers.oss import ACCESS_KEY_ID, ACCESS_KEY_SECRET, new_bucket, oss_env

__all__ = ["repo"]  # the review-repository fixture, shared with tests/core


def bucket_objects(bucket: oss2.Bucket, root: str) -> dict[str, bytes]:
    return {
        info.key[len(root) :]: bucket.get_object(info.key).read()
        for info in oss2.ObjectIteratorV2(bucket, prefix=root)
    }


@pytest.mark.parametrize("root", ["", "kops/"])
def test_pull_edit_push_read_back(
    root: str,
    oss_double: OssDouble,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = new_bucket(oss_double)
    bucket = oss2.Bucket(oss2.Auth(ACCESS_KEY_ID, ACCESS_KEY_SECRET), oss_double.endpoint, name)
    original = snapshot(FIXTURE_STORES / "minimal-aws")
    for key, data in original.items():
        bucket.put_object(root + key, data)
    for variable, value in oss_env(oss_double).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"oss://{name}/{root}")

    pull_edit_push(repo, original, capsys)

    after = bucket_objects(bucket, root)
    assert_only_the_edit_landed(original, after)
    assert bucket.head_object(root + NODES).etag == hashlib.md5(after[NODES]).hexdigest().upper()

    assert_next_pull_is_up_to_date(repo, capsys)
    assert_noop_pull_lists_once(repo)
