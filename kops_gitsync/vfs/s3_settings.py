"""How an s3:// (or do://, scw://, linode://, hos://) store is configured, the way kops
reads it (``util/pkg/vfs/s3context.go``). Pure: no SDK import and no network call, so the
rules can be checked without boto3 and the backend module stays about requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kops_gitsync.errors import FatalError

S3_SCHEMES = ("s3", "do", "scw", "linode", "hos")
CONDITIONAL_MODES = ("auto", "on", "off")
CONDITIONAL_VAR = "KOPS_GITSYNC_S3_CONDITIONAL"


@dataclass(frozen=True)
class S3Settings:
    """Everything the environment decides about one store; built without any network call."""

    scheme: str
    bucket: str
    prefix: str  # "" or ends with "/"
    endpoint: str | None
    region: str | None  # None: ask the bucket
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    profile: str | None
    acl: str | None
    sse: bool  # may send SSE at all (s3:// only); the bucket's default may still turn it off
    conditional: str  # "auto" | "on" | "off"


def parse_url(url: str) -> tuple[str, str, str]:
    """``scheme://bucket/prefix`` -> (scheme, bucket, prefix ending with "/" or empty)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in S3_SCHEMES:
        raise FatalError(f"not an S3 state store URL: {url!r}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise FatalError(f"state store {url!r} names no bucket ({scheme}://<bucket>[/path])")
    prefix = prefix.strip("/")
    return scheme, bucket, f"{prefix}/" if prefix else ""


def s3_settings(url: str, env: Mapping[str, str]) -> S3Settings:
    """Resolve settings like kops; a missing or contradictory variable is a ``FatalError``."""
    scheme, bucket, prefix = parse_url(url)
    endpoint = env.get("S3_ENDPOINT", "").strip() or None
    if endpoint is None and scheme != "s3":
        raise FatalError(
            f"{scheme}:// stores need S3_ENDPOINT (for DigitalOcean Spaces e.g. "
            "nyc3.digitaloceanspaces.com) plus S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
        )
    conditional = env.get(CONDITIONAL_VAR, "auto").strip().lower() or "auto"
    if conditional not in CONDITIONAL_MODES:
        raise FatalError(f"{CONDITIONAL_VAR}={conditional!r}: use one of auto, on, off")
    acl = env.get("KOPS_STATE_S3_ACL", "").strip() or None
    common: dict[str, Any] = dict(
        scheme=scheme, bucket=bucket, prefix=prefix, acl=acl, sse=scheme == "s3",
        conditional=conditional,
    )
    if endpoint is not None:
        for var in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
            if not env.get(var, "").strip():
                raise FatalError(f"S3_ENDPOINT is set, so {var} must be set too (kops needs it)")
        if "://" not in endpoint:
            endpoint = f"https://{endpoint}"
        return S3Settings(
            endpoint=endpoint, region=env.get("S3_REGION", "").strip() or "us-east-1",
            access_key=env["S3_ACCESS_KEY_ID"].strip(),
            secret_key=env["S3_SECRET_ACCESS_KEY"].strip(),
            session_token=None, profile=None, **common,
        )
    return S3Settings(
        endpoint=None, region=env.get("AWS_REGION", "").strip() or None,
        access_key=env.get("AWS_ACCESS_KEY_ID") or None,
        secret_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        session_token=env.get("AWS_SESSION_TOKEN") or None,
        profile=env.get("AWS_PROFILE") or None, **common,
    )


def region_from_location(location: str | None) -> str:
    """GetBucketLocation's legacy answers: empty means us-east-1, ``EU`` means eu-west-1."""
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location
