"""S3Store behaviour beyond the shared contract: what goes on the wire (SSE, ACL,
preconditions), where the region comes from, and what each operation costs in requests.
Everything runs against moto (and ``rclone serve s3`` as a server without conditionals)."""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.errors import FatalError, ObjectExists, PreconditionFailed
from kops_gitsync.vfs.base import Capabilities
from kops_gitsync.vfs.s3 import S3Store
from tests.servers.s3 import admin_client, new_bucket, s3_env


def capture_headers(store: S3Store, operation: str) -> list[dict[str, str]]:
    """The HTTP headers of every ``operation`` request the store sends from now on."""
    seen: list[dict[str, str]] = []

    def keep(request: Any, **_: Any) -> None:
        seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
                     for k, v in request.headers.items()})

    store._client.meta.events.register(f"before-send.s3.{operation}", keep)
    return seen


@pytest.fixture
def bucket(moto_server: str) -> str:
    return new_bucket(moto_server)


def open_store(url: str, env: dict[str, str]) -> S3Store:
    return S3Store.from_url(url, env)


def test_s3_writes_carry_sse_and_the_acl_and_ask_for_encryption_once(
    moto_server: str, bucket: str
) -> None:
    env = s3_env(moto_server, KOPS_STATE_S3_ACL=" bucket-owner-full-control ")
    store = open_store(f"s3://{bucket}", env)
    puts = capture_headers(store, "PutObject")
    store.write("c/config", b"1")
    store.write("c/config", b"2")
    assert [h.get("x-amz-server-side-encryption") for h in puts] == ["AES256", "AES256"]
    assert {h.get("x-amz-acl") for h in puts} == {"bucket-owner-full-control"}
    assert store.request_counts.get("OTHER") == 1  # one GetBucketEncryption, then cached
    head = admin_client(moto_server).head_object(Bucket=bucket, Key="c/config")
    assert head["ServerSideEncryption"] == "AES256"


def test_s3_bucket_with_default_encryption_gets_no_sse_header(
    moto_server: str, bucket: str
) -> None:
    admin_client(moto_server).put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    store = open_store(f"s3://{bucket}", s3_env(moto_server))
    puts = capture_headers(store, "PutObject")
    store.write("c/config", b"1")
    assert "x-amz-server-side-encryption" not in puts[0]


def test_do_never_sends_sse_and_never_asks_for_encryption(moto_server: str, bucket: str) -> None:
    store = open_store(f"do://{bucket}", s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on"))
    puts = capture_headers(store, "PutObject")
    store.write("c/config", b"1")
    assert "x-amz-server-side-encryption" not in puts[0]
    assert "x-amz-acl" not in puts[0]
    assert "OTHER" not in store.request_counts


def test_preconditions_go_to_the_server_as_headers(moto_server: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}", s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on"))
    puts = capture_headers(store, "PutObject")
    deletes = capture_headers(store, "DeleteObject")
    version = store.write("k", b"1", if_none_match=True)
    store.write("k", b"2", if_match=version)
    store.delete("k", if_match=store.read("k").version)
    assert puts[0]["if-none-match"] == "*"
    assert puts[1]["if-match"] == f'"{version}"'
    assert "if-match" in deletes[0]
    assert store.request_counts == {"OTHER": 1, "PUT": 2, "GET": 1, "DELETE": 1}


def test_listing_and_read_cost_one_request_each(moto_server: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/root", s3_env(moto_server))
    admin_client(moto_server).put_object(Bucket=bucket, Key="root/c/config", Body=b"x")
    admin_client(moto_server).put_object(Bucket=bucket, Key="root/c/", Body=b"")  # a "folder"
    admin_client(moto_server).put_object(Bucket=bucket, Key="elsewhere", Body=b"x")
    [info] = list(store.list())
    assert info.key == "c/config"
    assert store.read("c/config").version == info.version
    assert store.request_counts == {"LIST": 1, "GET": 1}


def test_probe_finds_that_moto_honours_all_preconditions(moto_server: str, bucket: str) -> None:
    store = open_store(f"do://{bucket}/kops", s3_env(moto_server))
    assert store.capabilities == Capabilities(True, True, True, write_metadata=True, versions=True)
    assert store.request_counts == {"PUT": 3, "DELETE": 2}
    assert list(store.list()) == []  # the probe object is gone
    assert store.capabilities.compare_and_swap  # asked once, then cached
    assert store.request_counts["PUT"] == 3


def test_probe_finds_a_server_that_ignores_preconditions(rclone_s3_server: str) -> None:
    store = open_store("do://bkt/probe", s3_env(rclone_s3_server))
    assert store.capabilities == Capabilities(
        False, False, False, write_metadata=True, versions=True)


def test_without_server_support_preconditions_are_checked_client_side(
    rclone_s3_server: str,
) -> None:
    store = open_store("do://bkt/fallback", s3_env(rclone_s3_server))
    version = store.write("lock", b"mine", if_none_match=True)
    puts = capture_headers(store, "PutObject")
    with pytest.raises(ObjectExists):
        store.write("lock", b"theirs", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.write("lock", b"theirs", if_match="0" * 32)
    with pytest.raises(PreconditionFailed):
        store.delete("lock", if_match="0" * 32)
    assert store.read("lock").data == b"mine"
    store.write("lock", b"next", if_match=version)
    assert "if-match" not in puts[0] and "if-none-match" not in puts[0]


def test_off_mode_claims_nothing(moto_server: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}", s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="off"))
    assert store.capabilities == Capabilities(
        False, False, False, write_metadata=True, versions=True)
    assert store.request_counts == {}  # no probe


def test_region_comes_from_the_bucket_location(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_client(moto_server).create_bucket(
        Bucket="kgs-frankfurt",
        CreateBucketConfiguration={"LocationConstraint": "eu-central-1"},
    )
    # AWS mode (no S3_ENDPOINT), pointed at moto the way the AWS SDKs allow.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    store = open_store("s3://kgs-frankfurt", env)
    assert store._client.meta.region_name == "eu-central-1"
    assert store.capabilities.compare_and_swap  # AWS: trusted without a probe
    forced = open_store("s3://kgs-frankfurt", {**env, "AWS_REGION": "us-west-2"})
    assert forced._client.meta.region_name == "us-west-2"


def test_missing_aws_credentials_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(FatalError, match="no AWS credentials"):
        open_store("s3://bucket", {"AWS_REGION": "us-east-1"})


def test_unknown_aws_profile_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(FatalError, match="no-such-profile"):
        open_store("s3://bucket", {"AWS_PROFILE": "no-such-profile", "AWS_REGION": "us-east-1"})
