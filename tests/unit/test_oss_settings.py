"""How oss:// builds its endpoint and credentials from the settings old kops read."""

from __future__ import annotations

import oss2
import pytest

from kops_gitsync.errors import FatalStoreError, ObjectExists, RetryableStoreError
from kops_gitsync.vfs.oss import OSSStore, oss_settings

KEYS = {"ALIYUN_ACCESS_KEY_ID": "LTAIxxxx", "ALIYUN_ACCESS_KEY_SECRET": "secret"}


@pytest.mark.parametrize(
    ("extra", "endpoint"),
    [
        ({"OSS_REGION": "cn-hangzhou"}, "https://oss-cn-hangzhou.aliyuncs.com"),
        ({"OSS_REGION": "oss-cn-beijing"}, "https://oss-cn-beijing.aliyuncs.com"),
        ({"OSS_REGION": "cn-hangzhou", "ALIYUN_OSS_INTERNAL": "1"},
         "https://oss-cn-hangzhou-internal.aliyuncs.com"),
        ({"OSS_REGION": "cn-hangzhou", "KOPS_GITSYNC_OSS_ENDPOINT": "http://127.0.0.1:9/"},
         "http://127.0.0.1:9"),
        ({"KOPS_GITSYNC_OSS_ENDPOINT": "https://oss.internal.example.com"},
         "https://oss.internal.example.com"),
    ],
)
def test_endpoint(extra: dict[str, str], endpoint: str) -> None:
    settings = oss_settings({**KEYS, **extra})
    assert settings.endpoint == endpoint
    assert (settings.access_key_id, settings.access_key_secret) == ("LTAIxxxx", "secret")


def test_missing_region_is_refused() -> None:
    with pytest.raises(FatalStoreError, match="OSS_REGION"):
        oss_settings(KEYS)


@pytest.mark.parametrize("missing", ["ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET"])
def test_missing_keys_are_refused(missing: str) -> None:
    env = {**KEYS, "OSS_REGION": "cn-hangzhou"}
    del env[missing]
    with pytest.raises(FatalStoreError, match=missing):
        oss_settings(env)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("oss://state", "state", ""), ("oss://state/kops/", "state", "kops/")],
)
def test_url_names_bucket_and_root(url: str, bucket: str, prefix: str) -> None:
    store = OSSStore.from_url(url, {**KEYS, "OSS_REGION": "cn-hangzhou"})
    assert (store.bucket_name, store.prefix) == (bucket, prefix)
    store.close()


def test_url_without_bucket_is_refused() -> None:
    with pytest.raises(FatalStoreError, match="names no bucket"):
        OSSStore.from_url("oss://", {**KEYS, "OSS_REGION": "cn-hangzhou"})


@pytest.mark.parametrize(
    ("status", "code", "expected", "words"),
    [
        (403, "RequestTimeTooSkewed", FatalStoreError, "clock"),
        (403, "SignatureDoesNotMatch", FatalStoreError, "credentials"),
        (404, "NoSuchBucket", FatalStoreError, "does not exist"),
        (503, "ServiceUnavailable", RetryableStoreError, "503"),
        (-2, "", RetryableStoreError, "connection refused"),  # oss2: a failed connection
        (409, "FileAlreadyExists", ObjectExists, "already exists"),
        (404, "NoSuchKey", FileNotFoundError, "c/config"),
    ],
)
def test_oss_errors_are_classified(
    status: int, code: str, expected: type[Exception], words: str
) -> None:
    store = OSSStore.from_url("oss://bkt", {**KEYS, "OSS_REGION": "cn-hangzhou"})
    error = oss2.exceptions.make_exception(_FakeResponse(status, code)) if status > 0 else (
        oss2.exceptions.RequestError(OSError("connection refused"))
    )
    translated = store._translate(error, "c/config")
    assert isinstance(translated, expected)
    assert words in str(translated)
    store.close()


class _FakeResponse:
    """What oss2.exceptions.make_exception reads from an HTTP response."""

    def __init__(self, status: int, code: str) -> None:
        self.status = status
        self.headers = {"x-oss-request-id": "r1"}
        self._body = (
            f"<Error><Code>{code}</Code><Message>m</Message><RequestId>r1</RequestId></Error>"
        ).encode()

    def read(self, amount: int = -1) -> bytes:
        return self._body if amount < 0 else self._body[:amount]


@pytest.mark.parametrize("bucket", ["b", "Upper-Case", "under_score"])
def test_invalid_bucket_names_are_refused(bucket: str) -> None:
    with pytest.raises(FatalStoreError, match="not a valid OSS bucket name"):
        OSSStore.from_url(f"oss://{bucket}", {**KEYS, "OSS_REGION": "cn-hangzhou"})
