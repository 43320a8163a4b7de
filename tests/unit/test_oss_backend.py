"""oss:// behaviour beyond the shared contract, on the OSS double: what oss2 itself sees after
our writes, upper-case MD5 versions, the create header, and listing pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import oss2
import pytest

from kops_gitsync.errors import ObjectExists, PreconditionFailed
from kops_gitsync.vfs.oss import OSSStore
from tests.doubles.oss_double import OssDouble
from tests.servers.oss import ACCESS_KEY_ID, ACCESS_KEY_SECRET, new_bucket, oss_env


@pytest.fixture
def bucket_name(oss_double: OssDouble) -> str:
    return new_bucket(oss_double)


@pytest.fixture
def store(oss_double: OssDouble, bucket_name: str) -> Iterator[OSSStore]:
    opened = OSSStore.from_url(f"oss://{bucket_name}/kops", oss_env(oss_double))
    yield opened
    opened.close()


def oss2_bucket(double: OssDouble, name: str) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(ACCESS_KEY_ID, ACCESS_KEY_SECRET), double.endpoint, name)


def test_oss2_reads_what_we_wrote_under_the_root(
    store: OSSStore, oss_double: OssDouble, bucket_name: str
) -> None:
    version = store.write("c.example.com/pki/issued/ca/keyset.yaml", b"keyset")
    assert version == hashlib.md5(b"keyset").hexdigest().upper()
    fetched = oss2_bucket(oss_double, bucket_name).get_object(
        "kops/c.example.com/pki/issued/ca/keyset.yaml"
    )
    assert (fetched.read(), fetched.etag) == (b"keyset", version)


def test_create_sends_forbid_overwrite(
    store: OSSStore, oss_double: OssDouble, bucket_name: str
) -> None:
    oss2_bucket(oss_double, bucket_name).put_object("kops/lock", b"held by kops 1.23")
    with pytest.raises(ObjectExists):
        store.write("lock", b"ours", if_none_match=True)
    assert store.read("lock").data == b"held by kops 1.23"


def test_replace_checks_the_etag_just_before_writing(
    store: OSSStore, oss_double: OssDouble, bucket_name: str
) -> None:
    seen = store.write("c/config", b"one")
    oss2_bucket(oss_double, bucket_name).put_object("kops/c/config", b"changed meanwhile")
    with pytest.raises(PreconditionFailed):
        store.write("c/config", b"two", if_match=seen)
    with pytest.raises(PreconditionFailed):
        store.delete("c/config", if_match=seen)
    assert store.read("c/config").data == b"changed meanwhile"
    assert store.request_counts["HEAD"] == 2


def test_listing_pages_follow_continuation_tokens(store: OSSStore) -> None:
    keys = [f"c/instancegroup/ig-{n}" for n in range(7)]
    for key in keys:
        store.write(key, key.encode())
    store.page_size = 3
    lists_before = store.request_counts["LIST"]
    listed = [o.key for o in store.list("c/")]
    assert sorted(listed) == keys
    assert store.request_counts["LIST"] - lists_before == 3
