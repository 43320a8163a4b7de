"""Field-level differences between two decoded kops objects: ``spec.maxSize: 2 -> 5``.

A change is addressed by *segments*: a string is a mapping key, an int a list index, and a
``{"name": ...}`` dict the list item with that ``name``. kops keeps etcd clusters, etcd
members, subnets and many other lists as named items whose order carries no meaning, so a
list whose items all have distinct names is matched by name: inserting a subnet then reads
as one added subnet, not as every later subnet changed. A list of scalars (``sshAccess``,
an InstanceGroup's ``subnets``) is one value: ``[a] -> [a, b]`` is what a reviewer wants.

An added or removed key (or named item) is reported once, at the highest level that is new
or gone, with its whole value. :func:`apply_changes` replays changes onto the old document;
the property tests use it to show the changes say everything about the new document.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kops_gitsync.yamlplain import TOO_LARGE, YamlProblem, load_plain

Segment = str | int | dict[str, str]


class _Missing:
    """The value of a side that has no such field (distinct from a YAML ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.:/-]+$")


@dataclass(frozen=True)
class FieldChange:
    """One changed field. ``old``/``new`` is MISSING on the side that lacks it."""

    segments: tuple[Segment, ...]
    old: Any = MISSING
    new: Any = MISSING

    @property
    def op(self) -> str:
        if self.old is MISSING:
            return "add"
        if self.new is MISSING:
            return "remove"
        return "change"

    @property
    def path(self) -> str:
        return format_path(self.segments)


def format_path(segments: Sequence[Segment]) -> str:
    """``spec.etcdClusters[main].etcdMembers[a].name``; odd keys as ``["kops.k8s.io/x"]``."""
    out = ""
    for seg in segments:
        if isinstance(seg, dict):
            name = seg["name"]
            out += f"[{name}]" if _PLAIN_NAME.match(name) else f"[{json.dumps(name)}]"
        elif isinstance(seg, int):
            out += f"[{seg}]"
        elif _PLAIN_KEY.match(seg):
            out += f".{seg}" if out else seg
        else:
            out += f"[{json.dumps(seg)}]"
    return out


def _named(items: list[Any]) -> bool:
    """Items that are all mappings with a distinct string ``name`` (an empty list qualifies)."""
    names = [i.get("name") if isinstance(i, dict) else None for i in items]
    return all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _same_scalar(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    return bool(a == b) or (a != a and b != b)  # NaN is the same NaN here


def _same(a: Any, b: Any) -> bool:
    """Deep equality that tells ``1`` from ``true`` and ``1.0`` (YAML does)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return _same_scalar(a, b)


def diff_docs(old: Any, new: Any) -> list[FieldChange]:
    """Every field that differs between two decoded documents, in document order."""
    return list(_diff(old, new, ()))


def _diff(old: Any, new: Any, at: tuple[Segment, ...]) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new:
                yield FieldChange((*at, key), old[key], MISSING)
            elif key not in old:
                yield FieldChange((*at, key), MISSING, new[key])
            else:
                yield from _diff(old[key], new[key], (*at, key))
        return
    if isinstance(old, list) and isinstance(new, list) and (old or new):
        structured = any(isinstance(i, dict | list) for i in [*old, *new])
        if structured and _named(old) and _named(new):
            yield from _diff_named(old, new, at)
            return
        if structured and len(old) == len(new) and all(
            isinstance(i, dict) for i in [*old, *new]
        ):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from _diff(a, b, (*at, index))
            return
    if not _same(old, new):
        yield FieldChange(at, old, new)


def _diff_named(old: list[Any], new: list[Any], at: tuple[Segment, ...]) -> Iterator[FieldChange]:
    before = {item["name"]: item for item in old}
    after = {item["name"]: item for item in new}
    for name in [*before, *(n for n in after if n not in before)]:
        where = (*at, {"name": name})
        if name not in after:
            yield FieldChange(where, before[name], MISSING)
        elif name not in before:
            yield FieldChange(where, MISSING, after[name])
        else:
            yield from _diff(before[name], after[name], where)


def _step(container: Any, seg: Segment) -> Any:
    if isinstance(seg, dict):
        return next(i for i in container if isinstance(i, dict) and i.get("name") == seg["name"])
    return container[seg]


def apply_changes(doc: Any, changes: Sequence[FieldChange]) -> Any:
    """``doc`` with ``changes`` replayed (a copy): the inverse of :func:`diff_docs`."""
    result = copy.deepcopy(doc)
    for change in changes:
        if not change.segments:
            result = copy.deepcopy(change.new)
            continue
        parent = result
        for seg in change.segments[:-1]:
            parent = _step(parent, seg)
        last = change.segments[-1]
        if isinstance(last, dict):
            index = next((i for i, item in enumerate(parent)
                          if isinstance(item, dict) and item.get("name") == last["name"]), None)
            if change.new is MISSING:
                if index is not None:
                    del parent[index]
            elif index is None:
                parent.append(copy.deepcopy(change.new))
            else:
                parent[index] = copy.deepcopy(change.new)
        elif change.new is MISSING:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(change.new)
    return result


def segments_from_json(raw: Sequence[Any]) -> tuple[Segment, ...]:
    """Segments as the JSON output writes them (the same shapes, validated)."""
    out: list[Segment] = []
    for seg in raw:
        if isinstance(seg, bool) or not isinstance(seg, str | int | dict):
            raise ValueError(f"bad path segment {seg!r}")
        if isinstance(seg, dict) and not isinstance(seg.get("name"), str):
            raise ValueError(f"bad path segment {seg!r}")
        out.append(seg)
    return tuple(out)


def decode(data: bytes) -> tuple[Any, str | None]:
    """(document, None), or (None, why not) for bytes that are not one YAML mapping."""
    try:
        doc = load_plain(data)
    except YamlProblem as exc:
        why = str(exc)
        return None, f"{why} to compare" if why == TOO_LARGE else why
    if not isinstance(doc, dict):
        return None, "not a YAML mapping"
    return doc, None
