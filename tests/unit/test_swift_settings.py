"""Where swift:// finds its credentials: the storage-URL hook, OS_*, clouds.yaml, kops' INI."""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.errors import FatalStoreError
from kops_gitsync.vfs.swift import SwiftStore, connect, swift_settings

PASSWORD_ENV = {
    "OS_AUTH_URL": "https://keystone.example.com:5000/v3",
    "OS_USERNAME": "kops",
    "OS_PASSWORD": "s3cret",
    "OS_TENANT_NAME": "clusters",
    "OS_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "'RegionOne'",
}

INI = """\
[Global]
region = RegionTwo

[Default]
identity = https://keystone.example.com:5000/v3
user = kops-file
password = from-file
domain_name = Default
tenant_id = 0123456789abcdef

[Swift]
service_name = swift-internal
availability = internal
"""


def test_storage_url_hook_needs_no_keystone() -> None:
    settings = swift_settings({"KOPS_GITSYNC_SWIFT_STORAGE_URL": "http://127.0.0.1:8080/v1/AUTH_t/"})
    kwargs = settings.connect_kwargs
    assert kwargs["auth_type"] == "none"
    assert kwargs["object_store_endpoint_override"] == "http://127.0.0.1:8080/v1/AUTH_t"
    assert "KOPS_GITSYNC_SWIFT_STORAGE_URL" in settings.source


def test_storage_url_hook_with_a_token() -> None:
    settings = swift_settings({
        "KOPS_GITSYNC_SWIFT_STORAGE_URL": "http://127.0.0.1:8080/v1/AUTH_t",
        "KOPS_GITSYNC_SWIFT_AUTH_TOKEN": "AUTH_tk123",
    })
    assert settings.connect_kwargs["auth_type"] == "admin_token"
    assert settings.connect_kwargs["auth"]["token"] == "AUTH_tk123"


def test_os_password_variables_as_kops_reads_them() -> None:
    settings = swift_settings(PASSWORD_ENV)
    kwargs = settings.connect_kwargs
    assert kwargs["auth_type"] == "password"
    assert kwargs["region_name"] == "RegionOne"  # kops strips the single quotes
    assert kwargs["auth"] == {
        "auth_url": "https://keystone.example.com:5000/v3",
        "username": "kops",
        "password": "s3cret",
        "project_name": "clusters",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert settings.source == "OS_* environment variables"


def test_openstacksdk_accepts_the_resolved_settings() -> None:
    connection = connect(swift_settings(PASSWORD_ENV))
    try:
        assert connection.config.get_region_name() == "RegionOne"
        assert connection.config.config["auth"]["username"] == "kops"
    finally:
        connection.close()


def test_application_credential_wins_over_password() -> None:
    env = {**PASSWORD_ENV, "OS_APPLICATION_CREDENTIAL_ID": "ac-1",
           "OS_APPLICATION_CREDENTIAL_SECRET": "ac-secret"}
    kwargs = swift_settings(env).connect_kwargs
    assert kwargs["auth_type"] == "v3applicationcredential"
    assert kwargs["auth"]["application_credential_id"] == "ac-1"
    assert "password" not in kwargs["auth"]


def test_tls_verification_can_be_turned_off_as_in_kops() -> None:
    kwargs = swift_settings({**PASSWORD_ENV, "KOPS_OS_TLS_INSECURE_SKIP_VERIFY": "true"})
    assert kwargs.connect_kwargs["verify"] is False


def test_incomplete_env_falls_back_to_the_credential_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.ini"
    path.write_text(INI)
    env = {"OS_AUTH_URL": "https://ignored.example.com", "OPENSTACK_CREDENTIAL_FILE": str(path)}
    settings = swift_settings(env)
    kwargs = settings.connect_kwargs
    assert settings.source == str(path)
    assert kwargs["auth"] == {
        "auth_url": "https://keystone.example.com:5000/v3",
        "username": "kops-file",
        "password": "from-file",
        "project_id": "0123456789abcdef",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert kwargs["region_name"] == "RegionTwo"
    assert kwargs["object_store_service_name"] == "swift-internal"
    assert kwargs["object_store_interface"] == "internal"


def test_home_openstack_config_is_the_default_file(tmp_path: Path) -> None:
    (tmp_path / ".openstack").mkdir()
    (tmp_path / ".openstack" / "config").write_text(INI)
    settings = swift_settings({"HOME": str(tmp_path), "OS_REGION_NAME": "RegionEnv"})
    assert settings.source == str(tmp_path / ".openstack" / "config")
    assert settings.connect_kwargs["region_name"] == "RegionEnv"  # the env beats [Global]


def test_credential_file_without_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "creds.ini"
    path.write_text("[Default]\nidentity = https://k.example.com\nuser = u\n")
    with pytest.raises(FatalStoreError, match="'identity' and 'password'"):
        swift_settings({"OPENSTACK_CREDENTIAL_FILE": str(path)})


def test_clouds_yaml_through_os_cloud(tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  kops-cloud:\n    auth:\n      auth_url: https://cloud.example.com/v3\n"
        "      username: from-clouds\n      password: pw\n    region_name: RegionThree\n"
    )
    env = {"OS_CLOUD": "kops-cloud", "OS_CLIENT_CONFIG_FILE": str(clouds), "HOME": str(tmp_path)}
    settings = swift_settings(env)
    assert settings.connect_kwargs["cloud"] == "kops-cloud"
    connection = connect(settings)
    try:
        assert connection.config.config["auth"]["username"] == "from-clouds"
        assert connection.config.get_region_name() == "RegionThree"
    finally:
        connection.close()


def test_no_credentials_at_all_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(FatalStoreError, match=r"OS_AUTH_URL.*OS_CLOUD"):
        swift_settings({"HOME": str(tmp_path)})


@pytest.mark.parametrize(
    ("url", "container", "prefix"),
    [("swift://kops", "kops", ""), ("swift://kops/", "kops", ""),
     ("swift://kops/state/prod/", "kops", "state/prod/")],
)
def test_url_names_container_and_root(url: str, container: str, prefix: str) -> None:
    store = SwiftStore.from_url(url, {"KOPS_GITSYNC_SWIFT_STORAGE_URL": "http://127.0.0.1:1/v1/A"})
    assert (store.container, store.prefix) == (container, prefix)


def test_url_without_container_is_refused() -> None:
    with pytest.raises(FatalStoreError, match="names no container"):
        SwiftStore.from_url("swift://", {"KOPS_GITSYNC_SWIFT_STORAGE_URL": "http://h/v1/A"})


def test_clouds_yaml_in_home_config(tmp_path: Path) -> None:
    folder = tmp_path / ".config" / "openstack"
    folder.mkdir(parents=True)
    (folder / "clouds.yaml").write_text(
        "clouds:\n  home-cloud:\n    auth:\n      auth_url: https://h.example.com/v3\n"
        "      username: from-home\n      password: pw\n"
    )
    connection = connect(swift_settings({"OS_CLOUD": "home-cloud", "HOME": str(tmp_path)}))
    try:
        assert connection.config.config["auth"]["username"] == "from-home"
    finally:
        connection.close()
