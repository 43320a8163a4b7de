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


def test_create_on_a_versioned_bucket_checks_first(
    store: OSSStore, oss_double: OssDouble, bucket_name: str
) -> None:
    """OSS ignores x-oss-forbid-overwrite once versioning is on; the create must not."""
    oss_double.set_versioning(bucket_name, "Enabled")
    oss2_bucket(oss_double, bucket_name).put_object("kops/lock", b"held by someone")
    with pytest.raises(ObjectExists):
        store.write("lock", b"ours", if_none_match=True)
    assert store.read("lock").data == b"held by someone"
    store.write("other", b"new", if_none_match=True)  # absent: created
    assert store.request_counts["OTHER"] == 1  # versioning asked once per store


def test_create_reads_back_and_reports_a_lost_race(
    store: OSSStore, oss_double: OssDouble, bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A racer whose PUT lands right after ours wins; our read-back must notice."""
    racer = oss2_bucket(oss_double, bucket_name)
    real_put = store._bucket.put_object

    def put_then_lose(name: str, data: bytes, headers: dict[str, str]) -> object:
        result = real_put(name, data, headers=headers)
        racer.put_object(name, b"the other creator")  # lands between our PUT and read-back
        return result

    monkeypatch.setattr(store._bucket, "put_object", put_then_lose)
    with pytest.raises(ObjectExists, match="meanwhile"):
        store.write("lock", b"ours", if_none_match=True)


def test_empty_objects_do_not_disturb_the_next_request(store: OSSStore) -> None:
    """oss2 streams bodies, so requests sends an empty one chunked; every later request on
    the same connection must still be understood (real OSS accepts chunked uploads)."""
    for n in range(10):
        store.write(f"c/k{n}", b"" if n % 2 else b"x")
    assert {o.key: o.size for o in store.list("c/")} == {
        f"c/k{n}": 0 if n % 2 else 1 for n in range(10)
    }
