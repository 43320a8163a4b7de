"""Where swift:// credentials come from, resolved the way kops users already provide them.

Pure configuration: no SDK import, so the settings can be checked (and tested) without
openstacksdk, and the backend module stays about requests and guarantees.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kops_gitsync.errors import FatalStoreError

STORAGE_URL_VAR = "KOPS_GITSYNC_SWIFT_STORAGE_URL"  # a pre-authenticated endpoint (tests, tokens)
TOKEN_VAR = "KOPS_GITSYNC_SWIFT_AUTH_TOKEN"


@dataclass(frozen=True)
class SwiftSettings:
    """Keyword arguments for ``openstack.connect`` and a note of where they came from."""

    connect_kwargs: dict[str, Any]
    source: str


def swift_settings(env: Mapping[str, str]) -> SwiftSettings:
    """Resolve credentials the way kops users already provide them, first match wins.

    1. ``KOPS_GITSYNC_SWIFT_STORAGE_URL`` (+ optional ``KOPS_GITSYNC_SWIFT_AUTH_TOKEN``): talk
       to that storage URL directly, without Keystone. A kops-gitsync extension, used by the
       tests against a Swift without auth middleware.
    2. ``OS_*`` variables, when they name an auth URL and a complete credential (kops'
       ``openstackconfig/env.go``).
    3. ``OS_CLOUD``: an entry of clouds.yaml, read by openstacksdk itself.
    4. The INI file ``$OPENSTACK_CREDENTIAL_FILE`` or ``~/.openstack/config`` (kops' fallback).
    """
    common: dict[str, Any] = {"load_envvars": False, "app_name": "kops-gitsync"}
    if env.get("KOPS_OS_TLS_INSECURE_SKIP_VERIFY", "").lower() in ("true", "1"):
        common["verify"] = False
    elif env.get("OS_CACERT"):
        common["cacert"] = env["OS_CACERT"]
    region = env.get("OS_REGION_NAME", "").strip("'")
    if region:
        common["region_name"] = region

    storage_url = env.get(STORAGE_URL_VAR, "").rstrip("/")
    if storage_url:
        token = env.get(TOKEN_VAR, "")
        auth: dict[str, str] = {"endpoint": storage_url}
        if token:
            auth["token"] = token
        return SwiftSettings(
            dict(common, load_yaml_config=False, auth_type="admin_token" if token else "none",
                 auth=auth, object_store_endpoint_override=storage_url),
            f"{STORAGE_URL_VAR}={storage_url}",
        )
    from_env = _auth_from_env(env)
    if from_env is not None:
        auth_type, auth = from_env
        return SwiftSettings(
            dict(common, load_yaml_config=False, auth_type=auth_type, auth=auth),
            "OS_* environment variables",
        )
    if env.get("OS_CLOUD"):
        cloud = env["OS_CLOUD"]
        home = Path(env.get("HOME") or Path.home())
        # openstacksdk fixes its search path at import and reads OS_CLIENT_CONFIG_FILE from
        # the process env; resolve both from ``env`` so the store sees what the caller passed.
        files = [env["OS_CLIENT_CONFIG_FILE"]] if env.get("OS_CLIENT_CONFIG_FILE") else []
        files += [str(d / "clouds.yaml") for d in
                  (Path.cwd(), home / ".config" / "openstack", Path("/etc/openstack"))]
        return SwiftSettings(
            dict(common, cloud=cloud, config_files=files), f"clouds.yaml entry {cloud!r}"
        )
    path = Path(
        env.get("OPENSTACK_CREDENTIAL_FILE")
        or Path(env.get("HOME", str(Path.home()))) / ".openstack" / "config"
    )
    if path.is_file():
        from_file = _settings_from_file(path, region)
        return SwiftSettings(dict(common, load_yaml_config=False, **from_file), str(path))
    raise FatalStoreError(
        "no OpenStack credentials for swift://: set OS_AUTH_URL with OS_USERNAME/OS_PASSWORD "
        "(or an application credential), OS_CLOUD for clouds.yaml, or write "
        f"{path} (OPENSTACK_CREDENTIAL_FILE)"
    )


_ENV_AUTH = {  # auth option -> variables, the first one set wins
    "auth_url": ("OS_AUTH_URL",),
    "username": ("OS_USERNAME",),
    "user_id": ("OS_USERID", "OS_USER_ID"),
    "password": ("OS_PASSWORD",),
    "project_id": ("OS_PROJECT_ID", "OS_TENANT_ID"),
    "project_name": ("OS_PROJECT_NAME", "OS_TENANT_NAME"),
    "user_domain_id": ("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
    "user_domain_name": ("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
    "project_domain_id": ("OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"),
    "project_domain_name": ("OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
    "application_credential_id": ("OS_APPLICATION_CREDENTIAL_ID",),
    "application_credential_name": ("OS_APPLICATION_CREDENTIAL_NAME",),
    "application_credential_secret": ("OS_APPLICATION_CREDENTIAL_SECRET",),
    "token": ("OS_TOKEN", "OS_AUTH_TOKEN"),
}


def _auth_from_env(env: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """(auth_type, auth) from ``OS_*``, or None when they do not make a whole credential."""
    auth: dict[str, str] = {}
    for option, names in _ENV_AUTH.items():
        value = next((env[n] for n in names if env.get(n)), None)
        if value is not None:
            auth[option] = value
    if "auth_url" not in auth:
        return None
    if "application_credential_secret" in auth:
        keep = {"auth_url", "application_credential_id", "application_credential_name",
                "application_credential_secret", "username", "user_id", "user_domain_id",
                "user_domain_name"}
        return "v3applicationcredential", {k: v for k, v in auth.items() if k in keep}
    if "password" in auth and ("username" in auth or "user_id" in auth):
        auth.pop("token", None)
        return "password", auth
    if "token" in auth:
        keep = {"auth_url", "token", "project_id", "project_name", "project_domain_id",
                "project_domain_name"}
        return "token", {k: v for k, v in auth.items() if k in keep}
    return None


def _settings_from_file(path: Path, env_region: str) -> dict[str, Any]:
    """kops' INI credential file: [Default] credentials, [Global] region, [Swift] endpoint."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise FatalStoreError(f"cannot parse OpenStack credential file {path}: {exc}") from exc
    sections: dict[str, Mapping[str, str]] = {
        name.lower(): parser[name] for name in parser.sections()
    }
    default = sections.get("default", {})

    def get(section: Mapping[str, str], name: str) -> str:
        return str(section.get(name, "")).strip().strip('"')

    if not get(default, "identity") or not get(default, "password"):
        raise FatalStoreError(f"{path}: section [Default] needs 'identity' and 'password'")
    auth = {
        "auth_url": get(default, "identity"),
        "username": get(default, "user"),
        "user_id": get(default, "user_id"),
        "password": get(default, "password"),
        "project_id": get(default, "tenant_id"),
        "project_name": get(default, "tenant_name"),
        "user_domain_id": get(default, "domain_id"),
        "user_domain_name": get(default, "domain_name"),
        "project_domain_id": get(default, "domain_id"),
        "project_domain_name": get(default, "domain_name"),
    }
    if not auth["username"] and not auth["user_id"]:
        raise FatalStoreError(f"{path}: section [Default] needs 'user' or 'user_id'")
    result: dict[str, Any] = {"auth_type": "password", "auth": {k: v for k, v in auth.items() if v}}
    swift_section = sections.get("swift", {})
    region = env_region or get(swift_section, "region") or get(sections.get("global", {}), "region")
    if region:
        result["region_name"] = region
    if get(swift_section, "service_type"):
        result["object_store_service_type"] = get(swift_section, "service_type")
    if get(swift_section, "service_name"):
        result["object_store_service_name"] = get(swift_section, "service_name")
    if get(swift_section, "availability"):
        result["object_store_interface"] = get(swift_section, "availability")
    return result
