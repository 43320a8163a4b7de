"""``kubernetesVersion``: required, and parsed as tolerantly as kops parses it.

kops accepts ``v1.34.0``, ``1.34`` (missing patch), surrounding spaces and leading zeros
(blang/semver ``ParseTolerant``), or a release URL containing ``/v1.N.P``. Anything else
is refused when the Cluster is stored, so the hook catches it at commit time instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import ClusterView, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_SOURCE = "pkg/apis/kops/validation/legacy.go: ValidateCluster; pkg/apis/kops/util/versions.go"
_NUMERIC = re.compile(r"^(0|[1-9][0-9]*)$")
_IDENT = re.compile(r"^[0-9A-Za-z-]+$")
_URL_VERSION = re.compile(r"/v(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)/")

VERSION_REQUIRED = rule(
    "version-required",
    "kops cannot pick binaries without spec.kubernetesVersion",
    "set spec.kubernetesVersion, e.g. v1.34.0",
    _SOURCE,
)
VERSION_INVALID = rule(
    "version-invalid",
    "kops parses kubernetesVersion as a (tolerant) semantic version or a release URL",
    "write a version such as v1.34.0",
    _SOURCE,
)


def parse_tolerant(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) the way blang/semver ParseTolerant reads it, else None."""
    version = text.strip().removeprefix("v")
    core, sep, rest = version.partition("+")
    build = rest if sep else None
    core, sep, pre = core.partition("-")
    prerelease = pre if sep else None
    parts = core.split(".")
    if len(parts) > 3 or not all(parts):
        return None
    parts = [p.lstrip("0") or "0" for p in parts] + ["0"] * (3 - len(parts))
    if not all(_NUMERIC.match(p) for p in parts):
        return None
    for extra in (prerelease, build):
        if extra is not None and not all(_IDENT.match(i) for i in extra.split(".")):
            return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def parse_kubernetes_version(text: str) -> tuple[int, int, int] | None:
    parsed = parse_tolerant(text)
    if parsed is None and "://" in text:
        match = _URL_VERSION.search(text)
        if match:
            parsed = parse_tolerant(match.group(1))
    return parsed


def check_kubernetes_version(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    value = view.spec.get("kubernetesVersion")
    if value is None or value == "":
        yield cluster_issue(
            VERSION_REQUIRED,
            ("spec",),
            "spec.kubernetesVersion is missing; set it, e.g. kubernetesVersion: v1.34.0",
            at_key=True,
        )
        return
    if not isinstance(value, str) or parse_kubernetes_version(value) is None:
        yield cluster_issue(
            VERSION_INVALID,
            ("spec", "kubernetesVersion"),
            f"kubernetesVersion {value!r} is not a version kops can parse; write e.g. v1.34.0",
        )


CHECKS = (check_kubernetes_version,)
