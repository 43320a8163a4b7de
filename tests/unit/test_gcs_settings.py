"""GCSStore settings and wire behaviour beyond the shared contract."""

from __future__ import annotations

from typing import Any

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.gcs import GCSStore, _request_kind, gcs_settings
from tests.servers.gcs import new_bucket


def test_url_gives_bucket_and_root_prefix() -> None:
    settings = gcs_settings("gs://bucket/kops/state/", {})
    assert (settings.bucket, settings.prefix, settings.emulator) == ("bucket", "kops/state/", None)
    assert gcs_settings("gs://bucket", {}).prefix == ""


@pytest.mark.parametrize("url", ["gs://", "gs:///x", "s3://bucket"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(FatalError):
        gcs_settings(url, {})


def test_emulator_host_without_scheme_means_http() -> None:
    env = {"STORAGE_EMULATOR_HOST": "127.0.0.1:4443", "GOOGLE_CLOUD_PROJECT": "p"}
    settings = gcs_settings("gs://b", env)
    assert (settings.emulator, settings.project) == ("http://127.0.0.1:4443", "p")


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("GET", "http://h/storage/v1/b/bkt/o?prefix=a", "LIST"),
        ("GET", "http://h/download/storage/v1/b/bkt/o/a%2Fb?alt=media", "GET"),
        ("GET", "http://h/storage/v1/b/bkt/o/a%2Fb?projection=noAcl", "HEAD"),
        ("POST", "http://h/upload/storage/v1/b/bkt/o?uploadType=multipart", "PUT"),
        ("DELETE", "http://h/storage/v1/b/bkt/o/a", "DELETE"),
    ],
)
def test_request_kinds(method: str, url: str, kind: str) -> None:
    assert _request_kind(method, url) == kind


def test_missing_default_credentials_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(FatalError, match="no Google credentials"):
        GCSStore.from_url("gs://bucket", {})


def test_writes_are_single_requests_with_the_generation_precondition(
    fake_gcs_server: str,
) -> None:
    store = GCSStore.from_url(f"gs://{new_bucket(fake_gcs_server)}",
                              {"STORAGE_EMULATOR_HOST": fake_gcs_server})
    sent: list[str] = []
    store._client._http.hooks["response"].append(
        lambda response, *a, **k: sent.append(f"{response.request.method} {response.request.url}")
    )
    try:
        first = store.write("c/config", b"1", if_none_match=True)
        store.write("c/config", b"2", if_match=first)
        uploads = [s for s in sent if s.startswith("POST")]
        assert len(uploads) == 2
        assert all("uploadType=multipart" in s for s in uploads)
        assert "ifGenerationMatch=0" in uploads[0]
        assert f"ifGenerationMatch={first}" in uploads[1]
    finally:
        store.close()
