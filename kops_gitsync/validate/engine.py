"""Runs the checks for one cluster: load each object, check its shape, then the rules.

The order is the order a reader fixes things in: a file that does not parse gets its
syntax finding and nothing else (rules on half-read data only add noise), a file of the
wrong kind gets no schema check, and cross-object rules run only on objects that loaded.
Positions are attached here, from the loader's map, so the rules stay pure functions of
plain data.

The schema is the one of the kops minor the cluster's ``kops-version.txt`` names (a
key of ``files`` like the object files; see ``schema_choice``).

Every stage runs guarded (validate/guard.py): whatever raises becomes a ``rule-crashed``
error on the file it was working on, so a bug fails the run in one line instead of
passing it or ending it in a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from kops_gitsync.validate import Finding
from kops_gitsync.validate.guard import crash_issue, guarded
from kops_gitsync.validate.issues import Issue, dotted
from kops_gitsync.validate.loader import LoadedDoc, load_object
from kops_gitsync.validate.rules.base import (
    CONFIG_KEY,
    IG_PREFIX,
    ClusterView,
    is_object_key,
)

if TYPE_CHECKING:  # the schema module loads with the first schema check
    from kops_gitsync.validate.schema import SchemaChoice

CLUSTER_KIND = "Cluster"
KOPS_VERSION_KEY = "kops-version.txt"  # written by kops update cluster, mirrored by pull
_MAX_VERSION_BYTES = 256
IG_KIND = "InstanceGroup"
ACCEPTED_API_VERSIONS = ("kops.k8s.io/v1alpha2", "kops.k8s.io/v1alpha3", "kops/v1alpha2")
# The shipped schema and the semantic rules speak v1alpha2 field names.
SCHEMA_API_VERSIONS = ("kops.k8s.io/v1alpha2", "kops/v1alpha2")


def expected_kind(key: str) -> str:
    return CLUSTER_KIND if key == CONFIG_KEY else IG_KIND


@dataclass(frozen=True)
class Located:
    """A finding plus the YAML field it is about (``spec.maxSize``; "" for the whole file)."""

    finding: Finding
    field: str


def check_cluster(
    cluster_dir: str,
    files: Mapping[str, bytes],
    previous: Mapping[str, bytes] | None = None,
    *,
    strict: bool = False,
) -> list[Finding]:
    located = locate_cluster(cluster_dir, files, previous, strict=strict)
    return [one.finding for one in located]


STRICT_NOTE = " [a warning; an error under --strict]"


def make_strict(located: Iterable[Located]) -> list[Located]:
    """``--strict``: every warning becomes an error (marked, so the reader knows why)."""
    return [
        Located(replace(one.finding, severity="error", message=one.finding.message + STRICT_NOTE),
                one.field)
        if one.finding.severity == "warning" else one
        for one in located
    ]


def locate_cluster(
    cluster_dir: str,
    files: Mapping[str, bytes],
    previous: Mapping[str, bytes] | None = None,
    *,
    strict: bool = False,
) -> list[Located]:
    """``check_cluster`` with the field path of each finding (what ``push`` prints).

    Errors are what kops refuses (at store write, or later at ``kops update cluster``, in
    kubelet or in the cloud API, as each rule says); warnings are where this goes further
    than kops. ``strict`` turns the warnings into errors.
    """
    display = cluster_dir.rstrip("/") or cluster_dir
    if not any(is_object_key(key) for key in files):
        return []  # only kops-version.txt (a deleted cluster's leftover): no object to judge
    docs: dict[str, LoadedDoc] = {}
    try:
        issues = _cluster_issues(display, files, previous, docs)
    except Exception as exc:  # a bug outside the guarded stages: still one line, still failing
        issues = [crash_issue("validation", CONFIG_KEY, exc)]
    found = to_findings(display, docs, issues)
    return make_strict(found) if strict else found


def _cluster_issues(
    display: str,
    files: Mapping[str, bytes],
    previous: Mapping[str, bytes] | None,
    docs: dict[str, LoadedDoc],
) -> list[Issue]:
    from kops_gitsync.validate.rules import run_rules, run_update_rules

    name = PurePosixPath(display.replace("\\", "/")).name or Path(display).resolve().name
    choice = schema_choice(files)
    loaded, issues = load_cluster(files, minor=choice.minor)
    docs.update(loaded)
    view = build_view(name, {k: d for k, d in docs.items() if d.shape_ok}, ig_file_names(files))
    named = re.match(r"\s*v?(\d+)\.(\d+)", kops_version_of(files) or "")
    if named:  # rules added after this kops minor do not apply (rules.base.kops_at_least)
        view = replace(view, kops_minor=f"{named.group(1)}.{named.group(2)}")
    if CONFIG_KEY not in files and ig_file_names(files):
        issues.append(
            Issue(
                "cluster-config-missing",
                next(iter(sorted(k for k in files if is_object_key(k)))),
                (),
                f"instance groups without a Cluster: add {name}/config or delete the folder",
                1,
                1,
            )
        )
    issues.extend(run_rules(view))
    if previous is not None:
        before, crashes = load_cluster(previous, schema=False)  # only its data is compared
        good = {k: d for k, d in before.items() if d.shape_ok}
        before_view = build_view(name, good, ig_file_names(previous))
        issues.extend(run_update_rules(before_view, view))
        # The previous version is not what is being judged, but a crash reading it means
        # the update rules did not run: that must not pass silently either.
        issues.extend(
            replace(i, message=f"in the version before the change: {i.message}")
            for i in crashes
            if i.rule == "rule-crashed"
        )
    return issues


def kops_version_of(files: Mapping[str, bytes]) -> str | None:
    """The text of the cluster's ``kops-version.txt`` in ``files``, if it is there."""
    raw = files.get(KOPS_VERSION_KEY)
    if raw is None:
        return None
    return raw[:_MAX_VERSION_BYTES].decode("utf-8", errors="replace").strip()


def schema_choice(files: Mapping[str, bytes]) -> SchemaChoice:
    """Which kops minor's schema ``files`` (one cluster folder's files) are checked against."""
    from kops_gitsync.validate.schema import choose_schema

    return choose_schema(kops_version_of(files))


def ig_file_names(files: Mapping[str, bytes]) -> list[str]:
    return [k[len(IG_PREFIX) :] for k in files if k.startswith(IG_PREFIX) and is_object_key(k)]


def load_cluster(
    files: Mapping[str, bytes], *, schema: bool = True, minor: str | None = None
) -> tuple[dict[str, LoadedDoc], list[Issue]]:
    """Load and shape-check every object file; ``shape_ok`` marks those rules may read."""
    docs: dict[str, LoadedDoc] = {}
    issues: list[Issue] = []
    for key in sorted(k for k in files if is_object_key(k)):
        issues.extend(guarded("the YAML loader", key, partial(_load, key, files[key], docs)))
        if key in docs:
            check = partial(_shape_and_schema, key, docs[key], schema, minor)
            issues.extend(guarded("the schema check", key, check))
    return docs, issues


def _load(key: str, raw: bytes, into: dict[str, LoadedDoc]) -> list[Issue]:
    doc, issues = load_object(key, raw)
    if doc is not None:
        into[key] = doc
    return issues


def _shape_and_schema(key: str, doc: LoadedDoc, schema: bool, minor: str | None) -> list[Issue]:
    """Shape first; the schema only for a mapping of the right kind (``shape_ok``)."""
    from kops_gitsync.validate.schema import check_schema

    issues = check_shape(key, doc.data)
    if any(issue.severity == "error" for issue in issues):
        return issues
    doc.shape_ok = True  # the rules may read it even if the schema check below crashes
    if schema and doc.data.get("apiVersion") in SCHEMA_API_VERSIONS:
        issues += check_schema(expected_kind(key), key, doc.data, minor)
    return issues


def check_shape(key: str, data: Any) -> list[Issue]:
    """A mapping with an accepted apiVersion and the kind its path calls for."""
    if not isinstance(data, dict):
        return [Issue("yaml-not-object", key, (), "the document is not a mapping (key: value)")]
    issues: list[Issue] = []
    api_version = data.get("apiVersion")
    if api_version not in ACCEPTED_API_VERSIONS:
        issues.append(
            Issue(
                "api-version",
                key,
                ("apiVersion",),
                f"apiVersion {api_version!r} is not one kops decodes; use kops.k8s.io/v1alpha2",
            )
        )
    kind = data.get("kind")
    want = expected_kind(key)
    if kind != want:
        where = "config" if want == CLUSTER_KIND else "instancegroup/<name>"
        issues.append(
            Issue(
                "api-kind",
                key,
                ("kind",),
                f"kind {kind!r} at {where}: this path holds a {want}; set kind: {want} or"
                " move the object to its own path",
            )
        )
    if not issues and api_version not in SCHEMA_API_VERSIONS:
        issues.append(
            Issue(
                "api-version-unchecked",
                key,
                ("apiVersion",),
                f"{api_version} objects get only syntax and name checks; kops stores"
                " kops.k8s.io/v1alpha2, so write that version for full validation",
                severity="warning",
            )
        )
    return issues


def build_view(name: str, docs: Mapping[str, LoadedDoc], ig_files: Iterable[str]) -> ClusterView:
    def usable(doc: LoadedDoc) -> bool:
        return isinstance(doc.data, dict) and doc.data.get("apiVersion") in SCHEMA_API_VERSIONS

    config = docs.get(CONFIG_KEY)
    igs = {
        key[len(IG_PREFIX) :]: doc.data
        for key, doc in docs.items()
        if key.startswith(IG_PREFIX) and usable(doc)
    }
    return ClusterView(
        name=name,
        cluster=config.data if config is not None and usable(config) else None,
        igs=igs,
        unchecked=tuple(sorted(key for key, doc in docs.items() if not usable(doc))),
        ig_files=tuple(sorted(ig_files)),
    )


def to_findings(
    display: str, docs: Mapping[str, LoadedDoc], issues: Iterable[Issue]
) -> list[Located]:
    findings = []
    for issue in issues:
        line, column = issue.line, issue.column
        doc = docs.get(issue.key)
        if line == 0 and doc is not None:
            finder = doc.key_position if issue.at_key else doc.position
            try:
                line, column = finder(issue.path)
            except Exception:  # an odd path from a rule: the finding matters, not the column
                line, column = 1, 1
        path = f"{display}/{issue.key}"
        finding = Finding(path, line, column, issue.rule, issue.message, issue.severity)
        findings.append(Located(finding, dotted(issue.path) if issue.path else ""))
    findings.sort(key=lambda f: (f.finding.path, f.finding.line, f.finding.column, f.finding.rule))
    return findings


def read_cluster_folder(folder: Path, *, with_version: bool = False) -> dict[str, bytes]:
    """The object files of one cluster folder on disk (and its ``kops-version.txt``)."""
    files: dict[str, bytes] = {}
    version = folder / KOPS_VERSION_KEY
    if with_version and version.is_file():
        with open(version, "rb") as handle:
            files[KOPS_VERSION_KEY] = handle.read(_MAX_VERSION_BYTES)
    config = folder / CONFIG_KEY
    if config.is_file():
        files[CONFIG_KEY] = config.read_bytes()
    ig_dir = folder / IG_PREFIX.rstrip("/")
    if ig_dir.is_dir():
        for entry in sorted(ig_dir.iterdir()):
            if entry.is_file():
                files[IG_PREFIX + entry.name] = entry.read_bytes()
    return files


def cluster_folders(root: Path) -> list[Path]:
    """Folders under a store root that hold a cluster (a ``config`` or ``instancegroup/``)."""
    if not root.is_dir():
        return []
    return [
        child
        for child in sorted(root.iterdir())
        if child.is_dir()
        and ((child / CONFIG_KEY).is_file() or (child / IG_PREFIX.rstrip("/")).is_dir())
    ]


def check_tree(
    root: Path, previous_root: Path | None = None, *, strict: bool = False
) -> list[Finding]:
    findings: list[Finding] = []
    for folder in cluster_folders(root):
        previous = None
        if previous_root is not None and (previous_root / folder.name).is_dir():
            previous = read_cluster_folder(previous_root / folder.name)
        files = read_cluster_folder(folder, with_version=True)
        findings.extend(check_cluster(str(folder), files, previous, strict=strict))
    return findings
