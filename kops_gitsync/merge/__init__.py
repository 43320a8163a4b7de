"""Merging kops YAML files: structural when possible, git's line merge when not.

``merge_files`` is what ``kops-gitsync merge-driver`` runs for every Cluster and
InstanceGroup file git cannot merge trivially. It parses the three versions with ruamel.yaml
(round trip: comments, quotes and key order survive), merges them with ``structural``, and
writes ours with theirs' changes applied. When both sides changed the same value, it renders
the merge three times (conflicts filled from ours, from the base, from theirs) and lets
``git merge-file`` compare those: the conflict markers then surround exactly the conflicting
values, with every independent change already merged around them.

Anything that is not one well-formed YAML document per side (a syntax error, a duplicate
key, several documents) is left to ``git merge-file`` as if there were no driver.
"""

from __future__ import annotations

import copy
import io
import itertools
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kops_gitsync.merge.structural import MISSING, Side, merge_trees, same


@dataclass(frozen=True)
class MergeResult:
    text: bytes
    conflicts: list[str] = field(default_factory=list)  # dotted paths, or why it fell back
    structural: bool = True

    @property
    def clean(self) -> bool:
        return not self.conflicts


class _NotMergeable(Exception):
    """This side cannot be merged structurally; use a line merge."""


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # kops never wraps lines; ruamel would at 80
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    return yaml


MAX_BYTES = 4 * 1024 * 1024
# An alias (``*name``) where a value starts. kops never writes one, and comparing trees
# would expand them: a "billion laughs" file must not hang a merge.
_ALIAS = re.compile(rb"(?:^|[\s\[{,:])\*[^\s,\]}]+", re.MULTILINE)
_KEY_LINE = re.compile(r"^( *)[^\s#-][^:]*:\s*(#.*)?$")
_DASH_LINE = re.compile(r"^( *)- ")


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as this file writes them.

    kops writes block sequences flush with their key (``subnets:`` then ``- cidr:``), which
    is ruamel's default; other editors indent the dash. Keeping the file's own style keeps a
    merge from reformatting lines nobody changed.
    """
    mapping, offset = 2, 0
    lines = text.splitlines()
    for previous, line in itertools.pairwise(lines):
        key = _KEY_LINE.match(previous)
        if not key:
            continue
        parent = len(key.group(1))
        dash = _DASH_LINE.match(line)
        if dash:
            offset = max(0, len(dash.group(1)) - parent)
            break
        child = len(line) - len(line.lstrip(" "))
        if child > parent and line.strip():
            mapping = child - parent
    return mapping, offset + 2, offset


def _load(data: bytes) -> tuple[Any, str]:
    from ruamel.yaml.error import YAMLError

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotMergeable("not UTF-8") from exc
    if not text.strip():
        return MISSING, text
    if len(data) > MAX_BYTES:
        raise _NotMergeable(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if _ALIAS.search(data):
        raise _NotMergeable("uses YAML aliases")
    try:
        documents = list(_yaml(text).load_all(text))
    except YAMLError as exc:
        raise _NotMergeable(f"not valid YAML ({type(exc).__name__})") from exc
    if len(documents) != 1:
        raise _NotMergeable("not exactly one YAML document")
    return documents[0], text


def _dump(tree: Any, style_of: str) -> bytes:
    out = io.StringIO()
    _yaml(style_of).dump(tree, out)
    return out.getvalue().encode("utf-8")


def line_merge(
    base: bytes, ours: bytes, theirs: bytes, labels: tuple[str, str, str], marker_size: int = 7
) -> tuple[bytes, int]:
    """``git merge-file -p``: (merged text with markers, number of conflicts)."""
    with tempfile.TemporaryDirectory(prefix="kops-gitsync-merge-") as tmp:
        paths = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(data)
            paths.append(str(path))
        proc = subprocess.run(
            [
                "git",
                "merge-file",
                "-p",
                f"--marker-size={marker_size}",
                "-L",
                labels[0],
                "-L",
                labels[1],
                "-L",
                labels[2],
                *paths,
            ],
            capture_output=True,
            check=False,
        )
    if proc.returncode < 0 or proc.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout, proc.returncode


def merge_files(
    base: bytes, ours: bytes, theirs: bytes, name: str = "", marker_size: int = 7
) -> MergeResult:
    """Merge theirs' changes since base into ours; conflicts leave markers."""
    labels = (f"ours:{name}" if name else "ours", "base", f"theirs:{name}" if name else "theirs")
    if ours == theirs or base == theirs:
        return MergeResult(ours)
    if base == ours:
        return MergeResult(theirs)
    try:
        base_tree, _ = _load(base)
        ours_tree, ours_text = _load(ours)
        theirs_tree, _ = _load(theirs)
        if ours_tree is MISSING or theirs_tree is MISSING:
            raise _NotMergeable("one side is empty")
        # A side whose bytes changed but whose values did not edited comments or layout,
        # which the tree merge cannot carry over: git's line merge keeps such edits.
        if (same(base_tree, ours_tree) and base != ours) or (
            same(base_tree, theirs_tree) and base != theirs
        ):
            raise _NotMergeable("comments or layout changed")
    except _NotMergeable as exc:
        text, count = line_merge(base, ours, theirs, labels, marker_size)
        return MergeResult(text, [f"line merge: {exc}"] if count else [], structural=False)

    def render(side: Side) -> tuple[bytes, list[str]]:
        tree, conflicts = merge_trees(
            copy.deepcopy(base_tree), copy.deepcopy(ours_tree), copy.deepcopy(theirs_tree), side
        )
        return (b"" if tree is MISSING else _dump(tree, ours_text)), conflicts

    merged, conflicts = render(Side.OURS)
    if not conflicts:
        return MergeResult(merged)
    from_base, _ = render(Side.BASE)
    from_theirs, _ = render(Side.THEIRS)
    text, count = line_merge(from_base, merged, from_theirs, labels, marker_size)
    if count == 0:
        # The renderings do not differ where the trees do (a value equal as YAML but
        # written differently): fall back to what git would have done without a driver.
        text, count = line_merge(base, ours, theirs, labels, marker_size)
        return MergeResult(text, conflicts if count else [], structural=False)
    return MergeResult(text, conflicts)
