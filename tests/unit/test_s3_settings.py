"""How an S3 store reads its settings: kops' rules (STATE_STORE_FACTS.md B.2), no network."""

from __future__ import annotations

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.s3_settings import parse_url, region_from_location, s3_settings

ENDPOINT_ENV = {"S3_ENDPOINT": "nyc3.digitaloceanspaces.com", "S3_ACCESS_KEY_ID": "ak",
                "S3_SECRET_ACCESS_KEY": "sk"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("s3", "bucket", "")),
        ("s3://bucket/", ("s3", "bucket", "")),
        ("do://space/kops/state/", ("do", "space", "kops/state/")),
        ("hos://b/p", ("hos", "b", "p/")),
    ],
)
def test_url_gives_bucket_and_root_prefix(url: str, expected: tuple[str, str, str]) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["s3://", "s3:///path", "gs://bucket", "bucket"])
def test_url_without_bucket_or_with_other_scheme_is_refused(url: str) -> None:
    with pytest.raises(FatalError):
        parse_url(url)


def test_aws_defaults_use_the_credential_chain_and_ask_the_bucket_for_its_region() -> None:
    settings = s3_settings("s3://bucket", {})
    assert settings.endpoint is None
    assert settings.region is None  # None: GetBucketLocation decides
    assert settings.access_key is None and settings.secret_key is None
    assert settings.sse is True
    assert settings.acl is None
    assert settings.conditional == "auto"


def test_aws_region_and_static_keys_come_from_the_aws_variables() -> None:
    env = {"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
           "AWS_SESSION_TOKEN": "T", "AWS_PROFILE": "ops"}
    settings = s3_settings("s3://bucket", env)
    assert (settings.region, settings.access_key, settings.secret_key) == ("eu-central-1", "A", "S")
    assert (settings.session_token, settings.profile) == ("T", "ops")


def test_custom_endpoint_takes_static_keys_default_region_and_https() -> None:
    settings = s3_settings("do://space", ENDPOINT_ENV)
    assert settings.endpoint == "https://nyc3.digitaloceanspaces.com"
    assert settings.region == "us-east-1"
    assert (settings.access_key, settings.secret_key) == ("ak", "sk")


def test_custom_endpoint_keeps_an_explicit_scheme_and_region() -> None:
    env = {**ENDPOINT_ENV, "S3_ENDPOINT": "http://127.0.0.1:9000", "S3_REGION": "fr-par"}
    settings = s3_settings("scw://b", env)
    assert (settings.endpoint, settings.region) == ("http://127.0.0.1:9000", "fr-par")


@pytest.mark.parametrize("missing", ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"])
def test_custom_endpoint_without_a_key_names_the_missing_variable(missing: str) -> None:
    env = {k: v for k, v in ENDPOINT_ENV.items() if k != missing}
    with pytest.raises(FatalError, match=missing):
        s3_settings("s3://bucket", env)


def test_blank_key_counts_as_missing() -> None:
    with pytest.raises(FatalError, match="S3_SECRET_ACCESS_KEY"):
        s3_settings("s3://bucket", {**ENDPOINT_ENV, "S3_SECRET_ACCESS_KEY": "  "})


@pytest.mark.parametrize("scheme", ["do", "scw", "linode", "hos"])
def test_non_aws_schemes_need_an_endpoint(scheme: str) -> None:
    with pytest.raises(FatalError, match="S3_ENDPOINT"):
        s3_settings(f"{scheme}://bucket", {})


@pytest.mark.parametrize(("scheme", "sse"), [("s3", True), ("do", False), ("linode", False)])
def test_only_s3_scheme_may_send_server_side_encryption(scheme: str, sse: bool) -> None:
    assert s3_settings(f"{scheme}://b", ENDPOINT_ENV).sse is sse


def test_acl_is_trimmed_and_blank_means_none() -> None:
    env = {"KOPS_STATE_S3_ACL": "  bucket-owner-full-control\n"}
    assert s3_settings("s3://b", env).acl == "bucket-owner-full-control"
    assert s3_settings("s3://b", {"KOPS_STATE_S3_ACL": "   "}).acl is None


@pytest.mark.parametrize(("value", "mode"), [("ON", "on"), (" off ", "off"), ("", "auto")])
def test_conditional_mode_setting(value: str, mode: str) -> None:
    env = {**ENDPOINT_ENV, "KOPS_GITSYNC_S3_CONDITIONAL": value}
    assert s3_settings("do://b", env).conditional == mode


def test_unknown_conditional_mode_is_refused() -> None:
    with pytest.raises(FatalError, match="KOPS_GITSYNC_S3_CONDITIONAL"):
        s3_settings("s3://b", {"KOPS_GITSYNC_S3_CONDITIONAL": "maybe"})


@pytest.mark.parametrize(
    ("location", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("ap-south-1", "ap-south-1")],
)
def test_bucket_location_to_region(location: str | None, region: str) -> None:
    assert region_from_location(location) == region


@pytest.mark.parametrize(
    "value",
    ["2026-11-24T03:01:49.000Z", "Tue, 24 Nov 2026 03:01:49 GMT", "2026-11-24T03:01:49"],
)
def test_timestamps_parse_without_dateutil_to_the_same_instant(value: str) -> None:
    import datetime

    from kops_gitsync.vfs.s3_errors import parse_timestamp as _parse_timestamp

    assert _parse_timestamp(value) == datetime.datetime(2026, 11, 24, 3, 1, 49,
                                                        tzinfo=datetime.UTC)
