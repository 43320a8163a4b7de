"""The semantic plan as text (a terminal), markdown (a pull-request comment) or JSON.

The JSON shape is a stable interface (docs/diff.md documents it, a test checks the documented
example against this code): ``schema_version`` changes only when a field changes meaning or
goes away; new fields may appear in any version. Values come out of the model already
redacted, and every string that reaches a terminal or a comment is escaped first (a field
value or a store key may hold a newline, a ``|`` or a terminal escape).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kops_gitsync.fingerprint import fingerprint
from kops_gitsync.review.fielddiff import MISSING, FieldChange
from kops_gitsync.review.model import ClusterReview, ObjectChange, StoreReview

SCHEMA_VERSION = 1
MARKER = "<!-- kops-gitsync-plan -->"  # lets CI find and replace its earlier comment
MAX_COMMENT = 60_000  # GitHub refuses comments over 65536 characters; GitLab's limit is larger
MAX_VALUE = 160  # characters of one value in text and markdown (JSON has it all)
_NO_URL = "store URL unknown here: never pulled in this clone"
_MARKS = {"create": "+", "update": "~", "delete": "-"}


def _fp(sha256: str | None) -> str | None:
    return fingerprint(sha256) if sha256 else None


def _safe(text: str) -> str:
    """Printable on one line: control, format and other non-printing characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in text)


def _value(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = _safe(json.dumps(value, ensure_ascii=False))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _summary_text(obj: ObjectChange) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in obj.summary.items())


def _object_title(obj: ObjectChange) -> str:
    return f"{obj.kind} {_safe(obj.name)}"


def _counts(reviews: Sequence[StoreReview]) -> dict[str, int]:
    return {
        "stores": len(reviews),
        "clusters": sum(len(r.clusters) for r in reviews),
        "objects": sum(len(c.objects) for r in reviews for c in r.clusters),
        "risks": sum(len(r.risks) for r in reviews),
        "conflicts": sum(len(r.conflicts) for r in reviews),
    }


def _range(review: StoreReview) -> str:
    return f"{(review.old or 'nothing')[:12]} -> {(review.new or 'nothing')[:12]}"


# --- text and markdown -----------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    """One human format's spelling of each part of a plan.

    Text and markdown show the same parts in the same order; that order lives once, in
    ``_walk``, so a fix to what a plan shows reaches both formats.
    """

    store: Callable[[StoreReview], list[str]]
    error: Callable[[str], list[str]]
    conflict: Callable[[dict[str, str]], str]
    no_changes: str
    cluster: Callable[[ClusterReview], list[str]]  # its heading and risks
    obj: Callable[[ObjectChange], list[str]]
    not_pushed: Callable[[list[str]], list[str]]


def _walk(reviews: Sequence[StoreReview], fmt: _Format) -> list[str]:
    """A store's error stands for all of it; conflicts lead, unpushed keys close a store."""
    lines: list[str] = []
    for review in reviews:
        lines += fmt.store(review)
        if review.error:
            lines += fmt.error(review.error)
            continue
        lines += [fmt.conflict(conflict) for conflict in review.conflicts]
        if review.empty:
            lines.append(fmt.no_changes)
        for cluster in review.clusters:
            lines += fmt.cluster(cluster)
            for obj in cluster.objects:
                lines += fmt.obj(obj)
        lines += fmt.not_pushed(review.not_pushed)
    return lines


def _text_cluster(cluster: ClusterReview) -> list[str]:
    lines = [f"  cluster {_safe(cluster.name) or '(store root)'}"]
    for risk in cluster.risks:
        where = ", ".join(_safe(p) for p in risk.paths[:3])
        more = f" (+{len(risk.paths) - 3} more)" if len(risk.paths) > 3 else ""
        where = f": {where}{more}" if where else ""
        lines.append(f"    RISK {risk.code} [{_safe(risk.key)}{where}]: {risk.reason}")
    return lines


def _text_object(obj: ObjectChange) -> list[str]:
    head = f"    {_MARKS[obj.op]} {_object_title(obj)}"
    if obj.kind in ("secret", "object") or obj.note:
        head += f" {_fp(obj.old_sha256) or '(new)'} -> {_fp(obj.new_sha256) or '(deleted)'}"
    if obj.summary:
        head += f": {_summary_text(obj)}"
    lines = [head]
    if obj.note:
        lines.append(f"        ({obj.note})")
    lines += [f"        {_safe(f.path)}: {_value(f.old)} -> {_value(f.new)}" for f in obj.fields]
    return lines


_TEXT = _Format(
    store=lambda r: [f"store {_safe(r.store)} ({_safe(r.url or _NO_URL)}): {_range(r)}"],
    error=lambda error: [f"  ! {_safe(error)}"],
    conflict=lambda c: f"  ! conflict {_safe(c['key'])}: {c['reason']}",
    no_changes="  no changes",
    cluster=_text_cluster,
    obj=_text_object,
    not_pushed=lambda keys: [f"  (changed in git, not pushed: {_safe(k)})" for k in keys])


def render_text(reviews: Sequence[StoreReview]) -> str:
    return "\n".join(_walk(reviews, _TEXT))


def _code(text: str) -> str:
    """Inline code that survives any content inside a table cell."""
    return "<code>" + html.escape(_safe(text)).replace("|", "&#124;") + "</code>"


def _markdown_cluster(cluster: ClusterReview) -> list[str]:
    lines = ["", f"**Cluster {_code(cluster.name or '(store root)')}**", ""]
    if cluster.risks:
        lines.append("> [!WARNING]")
        for risk in cluster.risks:
            paths = ", ".join(_code(p) for p in risk.paths[:3])
            lines.append(f"> - **{risk.code}** ({_code(risk.key)}"
                         f"{': ' + paths if paths else ''}): {risk.reason}")
        lines.append("")
    return [*lines, "| | Object | Field | Old | New |", "|---|---|---|---|---|"]


def _markdown_rows(obj: ObjectChange) -> list[str]:
    mark = _MARKS[obj.op]
    title = f"{obj.kind} {_code(obj.name)}"
    if obj.fields:
        return [f"| {mark} | {title} | {_code(f.path)} | {_code(_value(f.old))} | "
                f"{_code(_value(f.new))} |" for f in obj.fields]
    detail = obj.note or (_summary_text(obj) if obj.summary else "")
    old = _fp(obj.old_sha256) or "(new)"
    new = _fp(obj.new_sha256) or "(deleted)"
    return [f"| {mark} | {title} | {_code(detail) if detail else ''} | {_code(old)} | "
            f"{_code(new)} |"]


_MARKDOWN = _Format(
    store=lambda r: ["", f"#### Store {_code(r.store)} ({_code(r.url or _NO_URL)}) "
                         f"{_code(_range(r))}", ""],
    error=lambda error: [f"> [!CAUTION]\n> {html.escape(_safe(error))}"],
    conflict=lambda c: f"- :x: conflict {_code(c['key'])}: {c['reason']}",
    no_changes="No changes.",
    cluster=_markdown_cluster,
    obj=_markdown_rows,
    not_pushed=lambda keys: ["", "Changed in git, not pushed: "
                             + ", ".join(_code(k) for k in keys)] if keys else [])


def render_markdown(reviews: Sequence[StoreReview]) -> str:
    counts = _counts(reviews)
    head = [MARKER, "### kops-gitsync plan", "",
            f"{counts['objects']} object(s) change in {counts['clusters']} cluster(s) of "
            f"{counts['stores']} store(s); **{counts['risks']} risk flag(s)**"
            + (f", **{counts['conflicts']} conflict(s)**" if counts["conflicts"] else "") + "."]
    return _fit("\n".join(head + _walk(reviews, _MARKDOWN)) + "\n")


def _fit(text: str) -> str:
    """The plan cut at a line end so that a pull-request comment can hold it."""
    if len(text) <= MAX_COMMENT:
        return text
    cut = text.rfind("\n", 0, MAX_COMMENT - 400)
    left = text[cut + 1:].count("\n")
    return (text[: cut + 1] + f"\n**The plan is cut here: {left} more line(s) do not fit in a "
            "comment.** Run `kops-gitsync diff` locally (or `--format json`) for all of it.\n")


# --- JSON -----------------------------------------------------------------------------


def _segments(change: FieldChange) -> list[Any]:
    return [dict(s) if isinstance(s, dict) else s for s in change.segments]


def _change_json(change: FieldChange, redacted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.path, "segments": _segments(change), "op": change.op}
    if change.old is not MISSING:
        out["old"] = change.old
    if change.new is not MISSING:
        out["new"] = change.new
    out["redacted"] = redacted
    return out


def _object_json(obj: ObjectChange) -> dict[str, Any]:
    return {
        "key": obj.key,
        "kind": obj.kind,
        "name": obj.name,
        "op": obj.op,
        "old_fingerprint": _fp(obj.old_sha256),
        "new_fingerprint": _fp(obj.new_sha256),
        "note": obj.note,
        "summary": obj.summary,
        "changes": [_change_json(f, i in obj.redacted) for i, f in enumerate(obj.fields)],
    }


def store_json(review: StoreReview) -> dict[str, Any]:
    return {
        "store": review.store,
        "url": review.url,
        "from": review.old,
        "to": review.new,
        "error": review.error,
        "conflicts": review.conflicts,
        "not_pushed": review.not_pushed,
        "clusters": [
            {
                "cluster": cluster.name,
                "risks": [{"code": r.code, "key": r.key, "paths": r.paths, "reason": r.reason}
                          for r in cluster.risks],
                "objects": [_object_json(o) for o in cluster.objects],
            }
            for cluster in review.clusters
        ],
    }


def plan_document(reviews: Sequence[StoreReview], command: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "summary": _counts(reviews),
        "stores": [store_json(r) for r in reviews],
    }


def render_json(reviews: Sequence[StoreReview], command: str = "diff") -> str:
    # ASCII only: a hostile file name (a lone surrogate from undecodable bytes) stays valid JSON
    return json.dumps(plan_document(reviews, command), indent=2, ensure_ascii=True)


def render(reviews: Sequence[StoreReview], fmt: str, command: str = "diff") -> str:
    if fmt == "json":
        return render_json(reviews, command)
    if fmt == "markdown":
        return render_markdown(reviews)
    return render_text(reviews)
