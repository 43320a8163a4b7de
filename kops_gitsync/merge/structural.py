"""Three-way merge of YAML trees, key by key, with lists of named items merged by name.

A kops Cluster is one long mapping in which the interesting lists (``subnets``,
``etcdClusters``, ``etcdMembers``, ``hooks``, ``fileAssets``, ...) are lists of mappings
identified by ``name``. A line-based merge sees two people adding two subnets at the end of
the same list as a conflict, and sees nothing wrong when one edits a subnet's CIDR while the
other renames it. Merging by key and by name gets both right.

The merge works on ruamel.yaml round-trip nodes and mutates *ours* in place, so whatever
the merge does not touch keeps its comments, quoting and layout. A value both sides changed
differently is a conflict; the caller chooses which side fills it (``Side``), which is how
the driver renders the three versions it hands to ``git merge-file`` for conflict markers.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any


class Side(enum.Enum):
    OURS = "ours"
    BASE = "base"
    THEIRS = "theirs"


class _Missing:
    """A key or list item that does not exist on one side (deleted, or never added)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def plain(node: Any) -> Any:
    """A comparable value: mappings compare regardless of key order, ``True`` != ``1``."""
    if isinstance(node, Mapping):
        return ("map", frozenset((str(k), plain(v)) for k, v in node.items()))
    if isinstance(node, Sequence) and not isinstance(node, str | bytes):
        return ("seq", tuple(plain(v) for v in node))
    if node is MISSING:
        return ("missing",)
    for kind in (bool, int, float, str):  # bool first: it is an int too
        if isinstance(node, kind):
            return (kind.__name__, kind(node))
    return (type(node).__name__, node)


def same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(plain(a) == plain(b))
    except TypeError:  # unhashable scalar: compare as Python does
        return bool(a == b)


def _names(items: Any) -> list[Hashable] | None:
    """The ``name`` of every item, if this is a list of uniquely named mappings."""
    if items is MISSING:
        return []
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        return None
    names: list[Hashable] = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            return None
        names.append(item["name"])
    return names if len(set(names)) == len(names) else None


class Merger:
    """One merge pass; ``conflicts`` collects the dotted paths both sides changed."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.conflicts: list[str] = []

    def value(self, base: Any, ours: Any, theirs: Any, path: str) -> Any:
        """The merged value (MISSING: the key or item goes away)."""
        if same(ours, theirs) or same(base, theirs):
            return ours
        if same(base, ours):
            return theirs
        both_maps = isinstance(ours, MutableMapping) and isinstance(theirs, Mapping)
        if both_maps and (base is MISSING or isinstance(base, Mapping)):
            return self.mapping({} if base is MISSING else base, ours, theirs, path)
        if isinstance(ours, MutableSequence) and not isinstance(ours, str):
            names = (_names(base), _names(ours), _names(theirs))
            if all(n is not None for n in names):
                return self.named_list(base, ours, theirs, path)
        self.conflicts.append(path or "(document)")
        return {Side.OURS: ours, Side.BASE: base, Side.THEIRS: theirs}[self.side]

    def mapping(
        self,
        base: Mapping[Any, Any],
        ours: MutableMapping[Any, Any],
        theirs: Mapping[Any, Any],
        path: str,
    ) -> MutableMapping[Any, Any]:
        for key in list(ours):
            merged = self.value(
                base.get(key, MISSING), ours[key], theirs.get(key, MISSING), _join(path, key)
            )
            if merged is MISSING:
                del ours[key]
            elif merged is not ours[key]:
                ours[key] = merged
        order = list(theirs)
        for index, key in enumerate(order):
            if key in ours:
                continue
            merged = self.value(base.get(key, MISSING), MISSING, theirs[key], _join(path, key))
            if merged is MISSING:
                continue
            before = [k for k in order[:index] if k in ours]
            keys = list(ours)
            position = keys.index(before[-1]) + 1 if before else 0
            position = _after_our_additions(keys, position, base, theirs)
            _insert_key(ours, position, key, merged)
        return ours

    def named_list(self, base: Any, ours: MutableSequence[Any], theirs: Any, path: str) -> Any:
        by_name = {
            side: {item["name"]: item for item in items} if items is not MISSING else {}
            for side, items in (("base", base), ("theirs", theirs))
        }
        base_items, their_items = by_name["base"], by_name["theirs"]
        index = 0
        while index < len(ours):
            name = ours[index]["name"]
            merged = self.value(
                base_items.get(name, MISSING),
                ours[index],
                their_items.get(name, MISSING),
                f"{path}[name={name}]",
            )
            if merged is MISSING:
                del ours[index]
                continue
            if merged is not ours[index]:
                ours[index] = merged
            index += 1
        their_order = [] if theirs is MISSING else [item["name"] for item in theirs]
        for position, name in enumerate(their_order):
            current = [item["name"] for item in ours]
            if name in current:
                continue
            merged = self.value(
                base_items.get(name, MISSING), MISSING, their_items[name], f"{path}[name={name}]"
            )
            if merged is MISSING:
                continue
            before = [n for n in their_order[:position] if n in current]
            at = current.index(before[-1]) + 1 if before else 0
            ours.insert(_after_our_additions(current, at, base_items, their_items), merged)
        return ours


def _after_our_additions(
    names: list[Any], position: int, base: Mapping[Any, Any], theirs: Mapping[Any, Any]
) -> int:
    """Skip past what only ours added at this spot: concurrent additions at one place come
    out as ours, then theirs (git's order for its conflict sides)."""
    while position < len(names) and names[position] not in base and names[position] not in theirs:
        position += 1
    return position


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _insert_key(mapping: MutableMapping[Any, Any], position: int, key: Any, value: Any) -> None:
    insert = getattr(mapping, "insert", None)
    if insert is not None:  # ruamel's CommentedMap keeps order and comments
        insert(position, key, value)
    else:
        mapping[key] = value


def merge_trees(base: Any, ours: Any, theirs: Any, side: Side) -> tuple[Any, list[str]]:
    """Merge ``theirs``' changes since ``base`` into ``ours`` (mutated); return the result
    and the conflicting paths, each filled from ``side``."""
    merger = Merger(side)
    result = merger.value(base, ours, theirs, "")
    return result, merger.conflicts
