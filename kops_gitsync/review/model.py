"""The semantic plan of one store: per cluster, what changes in each object, and the risks.

Built from plain bytes (``Version``), so it does not care whether they came from a revision
range, from what push would write, or from a test. Secrets never get further than this
module as anything but a fingerprint (``sha256:`` and 12 hex digits): objects under
``pki/private/``, ``secrets/`` or ``backups/`` are shown by fingerprint only, and so is any
string field whose name or content looks secret (the same scanner as the no-secrets hook).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kops_gitsync.fingerprint import fingerprint_of
from kops_gitsync.review.fielddiff import MISSING, FieldChange, decode, diff_docs
from kops_gitsync.review.risk import Risk, cluster_risks, instancegroup_risks
from kops_gitsync.sync.policy import Kind, classify, cluster_of

# Field names whose string values are credentials whatever they look like.
_SECRET_NAME = re.compile(
    r"(?i)(passw|secret|token|credential|private.?key|api.?key|access.?key|auth.?key)"
)
_SUMMARY_FIELDS = ("role", "machineType", "image", "minSize", "maxSize", "subnets",
                   "kubernetesVersion", "cloudProvider")


@dataclass(frozen=True)
class Version:
    """One side of an object: its sha256, and its bytes when git has them (None: withheld)."""

    sha256: str
    data: bytes | None = None

    @classmethod
    def of(cls, data: bytes) -> Version:
        return cls(hashlib.sha256(data).hexdigest(), data)


@dataclass
class ObjectChange:
    key: str  # relative to the mirror folder: <cluster>/instancegroup/<name>
    op: str  # create | update | delete
    kind: str  # Cluster | InstanceGroup | secret | object
    name: str
    old_sha256: str | None = None
    new_sha256: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    redacted: set[int] = field(default_factory=set)  # indexes of fields shown by fingerprint
    summary: dict[str, Any] = field(default_factory=dict)  # created/deleted Cluster or IG
    note: str | None = None


@dataclass
class ClusterReview:
    name: str  # "" for objects at the store root
    objects: list[ObjectChange] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)


@dataclass
class StoreReview:
    store: str
    url: str
    old: str | None  # the commits compared (None: no such side)
    new: str | None
    clusters: list[ClusterReview] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    not_pushed: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def risks(self) -> list[Risk]:
        return [r for c in self.clusters for r in c.risks]

    @property
    def empty(self) -> bool:
        return not self.clusters and not self.conflicts


def _looks_secret(name: str, value: str) -> bool:
    if _SECRET_NAME.search(name):
        return True
    if len(value) < 8:
        return False
    from kops_gitsync.secretscan import findings

    return bool(findings(f"{name}: {value}\n".encode("utf-8", "surrogateescape")))


def redact(value: Any, name: str) -> tuple[Any, bool]:
    """``value`` with every secret-looking string replaced by its fingerprint."""
    if isinstance(value, str):
        return (fingerprint_of(value), True) if _looks_secret(name, value) else (value, False)
    if isinstance(value, int | float) and not isinstance(value, bool) and _SECRET_NAME.search(
            name):  # `password: 12345678` is a number to YAML and a secret all the same
        return fingerprint_of(str(value)), True
    if isinstance(value, dict):
        pairs = {k: redact(v, k) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(r for _, r in pairs.values())
    if isinstance(value, list):
        items = [redact(v, name) for v in value]
        return [v for v, _ in items], any(r for _, r in items)
    return value, False


def _redact_change(change: FieldChange) -> tuple[FieldChange, bool]:
    names = [s for s in change.segments if isinstance(s, str)]
    name = names[-1] if names else ""
    old, old_hidden = redact(change.old, name) if change.old is not MISSING else (MISSING, False)
    new, new_hidden = redact(change.new, name) if change.new is not MISSING else (MISSING, False)
    if not (old_hidden or new_hidden):
        return change, False
    return FieldChange(change.segments, old, new), True


def _kind_of(key: str) -> tuple[str, str]:
    """(kind, name) from the key alone: the store layout kops uses."""
    if classify(key) in (Kind.SECRET, Kind.BACKUP):
        return "secret", key.partition("/")[2] or key
    parts = key.split("/")
    if len(parts) == 2 and parts[1] == "config":
        return "Cluster", parts[0]
    if len(parts) == 3 and parts[1] == "instancegroup":
        return "InstanceGroup", parts[2]
    return "object", key.partition("/")[2] or key


def _summary(doc: Any) -> dict[str, Any]:
    spec = doc.get("spec") if isinstance(doc, dict) else None
    if not isinstance(spec, dict):
        return {}
    picked = {k: spec[k] for k in _SUMMARY_FIELDS if k in spec}
    return {k: redact(v, k)[0] for k, v in picked.items()}


def object_change(
    key: str, old: Version | None, new: Version | None
) -> tuple[ObjectChange, list[Risk]]:
    """The change of one object, and the risks it carries."""
    op = "create" if old is None else "delete" if new is None else "update"
    kind, name = _kind_of(key)
    change = ObjectChange(key, op, kind, name, old.sha256 if old else None,
                          new.sha256 if new else None)
    if kind in ("secret", "object"):
        return change, []
    # Deleting the file prunes the object whatever its bytes were: flagged by key alone when
    # its content cannot be compared.
    undecodable: list[Risk] = []
    if op == "delete":
        code = "cluster-deleted" if kind == "Cluster" else "instancegroup-deleted"
        undecodable.append(Risk(code, key))
    docs: list[Any] = []
    for side in (old, new):
        if side is None:
            docs.append(None)
            continue
        if side.data is None:
            change.note = "content not in git (withheld); compared by fingerprint"
            change.kind = "object"
            return change, undecodable
        doc, problem = decode(side.data)
        if problem is not None or doc.get("kind") != kind:
            change.note = problem or f"not a kops {kind} object"
            change.kind = "object"
            return change, undecodable
        docs.append(doc)
    if docs[0] is not None and docs[1] is not None:
        for index, raw in enumerate(diff_docs(docs[0], docs[1])):
            shown, hidden = _redact_change(raw)
            if hidden:
                change.redacted.add(index)
            change.fields.append(shown)
    else:
        change.summary = _summary(docs[0] if docs[1] is None else docs[1])
    risks = cluster_risks if kind == "Cluster" else instancegroup_risks
    return change, risks(key, docs[0], docs[1], change.fields)


def build_review(
    store: str,
    url: str,
    old: str | None,
    new: str | None,
    entries: Iterable[tuple[str, Version | None, Version | None]],
) -> StoreReview:
    """The review of ``entries`` (key, old side, new side); unchanged entries are skipped."""
    review = StoreReview(store, url, old, new)
    clusters: dict[str, ClusterReview] = {}
    for key, before, after in sorted(entries, key=lambda e: e[0]):
        if before is None and after is None:
            continue
        if before is not None and after is not None and before.sha256 == after.sha256:
            continue
        change, risks = object_change(key, before, after)
        if change.op == "update" and change.kind in ("Cluster", "InstanceGroup") \
                and not change.fields:
            change.note = "formatting only: the decoded object is the same"
        cluster = clusters.setdefault(cluster_of(key), ClusterReview(cluster_of(key)))
        cluster.objects.append(change)
        cluster.risks.extend(risks)
    review.clusters = [clusters[name] for name in sorted(clusters)]
    return review
