"""Strict loading of one kops object file: bytes in, plain data with positions out.

kops decodes YAML leniently (sigs.k8s.io/yaml): a duplicate key silently keeps the last
value, only the first document counts, and any parser error surfaces at ``kops update``
time, far from the commit that caused it. A review hook has to be stricter than kops and
say *where* the problem is, so this loader:

* refuses files above ``MAX_OBJECT_BYTES`` before parsing (a pure-Python YAML parser
  needs seconds per megabyte; kops objects are a few kilobytes);
* reports merge-conflict markers as their own finding, because "unexpected '<'" would
  send the reader hunting for a syntax error that is really an unfinished merge;
* composes the node graph first (cheap: aliases stay references), then expands it into
  plain ``dict``/``list``/scalars itself, counting nodes, so an alias bomb stops with a
  clear error after ``MAX_EXPANDED_NODES`` instead of eating the machine;
* reports every duplicate key and keeps the *last* value, as kops would;
* records the line and column of every key and value, so a rule that works on plain data
  can still point at ``path:line:column``.

Findings are returned as ``Issue`` values, never raised: one bad file must not hide the
findings of the others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath

MAX_OBJECT_BYTES = 256 * 1024
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 100

_CONFLICT_MARKER = re.compile(rb"^(<{7}|={7}|>{7}|\|{7})(?: |$)", re.MULTILINE)


@dataclass
class LoadedDoc:
    """One parsed object file: plain data plus where each key and value sits (1-based)."""

    key: str
    data: Any
    key_positions: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    value_positions: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    shape_ok: bool = False  # set by the engine: a mapping of the right kind and apiVersion

    def position(self, path: YamlPath) -> tuple[int, int]:
        """Where the value at ``path`` starts; for a missing path, the nearest ancestor's key."""
        probe = tuple(path)
        if probe in self.value_positions:
            return self.value_positions[probe]
        while probe:
            if probe in self.key_positions:
                return self.key_positions[probe]
            if probe in self.value_positions:  # a list item has no key
                return self.value_positions[probe]
            probe = probe[:-1]
        return self.value_positions.get((), (1, 1))

    def key_position(self, path: YamlPath) -> tuple[int, int]:
        """Position of the key that names ``path`` (falls back like ``position``)."""
        found = self.key_positions.get(tuple(path))
        return found if found is not None else self.position(path)


class _TooComplex(Exception):
    """The document expands past the node or depth budget."""


class _NotJson(Exception):
    """Valid YAML that kops' YAML-to-JSON step refuses, with the (line, column) of the cause."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def conflict_markers(raw: bytes) -> list[int]:
    """1-based line numbers of git merge-conflict marker lines."""
    return [raw.count(b"\n", 0, match.start()) + 1 for match in _CONFLICT_MARKER.finditer(raw)]


def load_object(key: str, raw: bytes) -> tuple[LoadedDoc | None, list[Issue]]:
    """Parse one object file strictly; ``None`` when nothing trustworthy could be read."""
    if len(raw) > MAX_OBJECT_BYTES:
        return None, [
            Issue(
                "file-too-large",
                key,
                (),
                f"{len(raw)} bytes is above the {MAX_OBJECT_BYTES}-byte limit for a kops object;"
                " keep large content (fileAssets, hooks) small or move it out of the spec",
                line=1,
                column=1,
            )
        ]
    issues: list[Issue] = []
    markers = conflict_markers(raw)
    for line in markers:
        issues.append(
            Issue(
                "conflict-markers",
                key,
                (),
                "unresolved git merge-conflict marker; finish the merge and remove the"
                " <<<<<<< ======= >>>>>>> lines",
                line=line,
                column=1,
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        issues.append(Issue("yaml-syntax", key, (), f"not UTF-8 text ({exc.reason})", line, 1))
        return None, issues
    doc, parse_issues = _parse(key, text)
    issues.extend(parse_issues)
    if markers:
        return None, issues
    return doc, issues


def _compose_all(text: str) -> list[Any]:
    """Compose every document: libyaml through PyYAML when present, else ruamel.yaml.

    Both expose the same node and mark API (ruamel.yaml is a PyYAML fork). libyaml is
    about 40 times faster, which matters in a commit hook; it also resolves scalars by
    YAML 1.1 rules (``yes`` is a boolean), as kops' go-yaml does. ruamel.yaml is set to
    1.1 too, so both paths read a file the same way.
    """
    try:
        import yaml

        if yaml.__with_libyaml__:
            return list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except ImportError:
        pass
    from ruamel.yaml import YAML

    parser = YAML(typ="safe", pure=True)
    parser.version = (1, 1)
    return list(parser.compose_all(text))


def _parse(key: str, text: str) -> tuple[LoadedDoc | None, list[Issue]]:
    try:
        nodes = _compose_all(text)
    except RecursionError:
        return None, [_too_complex(key, "nesting deeper than the parser can follow")]
    except Exception as exc:
        if not _is_yaml_error(exc):
            raise
        return None, [_syntax_issue(key, exc)]
    nodes = [node for node in nodes if node is not None]
    if not nodes:
        return None, [Issue("yaml-not-object", key, (), "the file holds no YAML document", 1, 1)]
    issues: list[Issue] = []
    for extra in nodes[1:]:
        issues.append(
            Issue(
                "yaml-multiple-documents",
                key,
                (),
                "a second YAML document; kops reads only the first, so split it into its own"
                " file",
                extra.start_mark.line + 1,
                extra.start_mark.column + 1,
                severity="warning",  # kops stores the file: the rest is silently ignored
            )
        )
    doc = LoadedDoc(key=key, data=None)
    builder = _Builder(doc, issues)
    try:
        doc.data = builder.build(nodes[0], (), 0)
    except _TooComplex as exc:
        return None, [*issues, _too_complex(key, str(exc))]
    except _NotJson as exc:
        return None, [*issues, Issue("yaml-syntax", key, (), str(exc), exc.line, exc.column)]
    except RecursionError:  # e.g. a merge key that includes itself
        return None, [*issues, _too_complex(key, "a self-referencing alias or merge key")]
    return doc, issues


def _is_yaml_error(exc: Exception) -> bool:
    """A parser error of either backend (their classes share no base we can import cheaply)."""
    return any(cls.__name__ == "YAMLError" for cls in type(exc).__mro__)


def _syntax_issue(key: str, exc: Exception) -> Issue:
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    mark = problem_mark or context_mark
    if context_mark is not None and "end of stream" in str(problem):
        mark = context_mark  # where the unterminated thing began, not EOF
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    text = " ".join(str(problem or context or exc).split())
    if context and problem:
        text += f" ({' '.join(str(context).split())})"
    return Issue("yaml-syntax", key, (), text, line, column)


def _too_complex(key: str, detail: str) -> Issue:
    return Issue(
        "yaml-too-complex",
        key,
        (),
        f"{detail}; refused (possible YAML alias bomb). Write the object out without"
        " anchors/aliases",
        1,
        1,
    )


class _Builder:
    """Expands a composed node graph into plain data, within the node and depth budget."""

    def __init__(self, doc: LoadedDoc, issues: list[Issue]) -> None:
        self.doc = doc
        self.issues = issues
        self.count = 0

    def build(self, node: Any, path: YamlPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_EXPANDED_NODES:
            raise _TooComplex(f"the document expands to more than {MAX_EXPANDED_NODES} nodes")
        if depth > MAX_DEPTH:
            raise _TooComplex(f"the document nests deeper than {MAX_DEPTH} levels")
        mark = node.start_mark
        self.doc.value_positions.setdefault(path, (mark.line + 1, mark.column + 1))
        kind = node.id
        if kind == "mapping":
            return self._mapping(node, path, depth)
        if kind == "sequence":
            return [
                self.build(item, (*path, index), depth + 1)
                for index, item in enumerate(node.value)
            ]
        return _scalar(node.tag, node.value)

    def _mapping(self, node: Any, path: YamlPath, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in _merged_pairs(node):
            if key_node.id != "scalar":
                mark = key_node.start_mark
                raise _NotJson("a mapping key that is itself a mapping or list has no JSON form"
                               " (kops cannot decode it); use a plain string key",
                               mark.line + 1, mark.column + 1)
            name = _scalar(key_node.tag, key_node.value)
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if name in seen:
                self.issues.append(
                    Issue(
                        "yaml-duplicate-key",
                        self.doc.key,
                        (*path, name),
                        f"key {name!r} repeats the one on line {seen[name]}; kops silently"
                        " keeps the last value: delete one of them",
                        line,
                        column,
                        severity="warning",  # kops stores it (last value wins)
                    )
                )
                result.pop(name, None)  # re-insert so the last value wins, in its order
            seen[name] = line
            child = (*path, name)
            self.doc.key_positions[child] = (line, column)
            self.doc.value_positions.pop(child, None)
            result[name] = self.build(value_node, child, depth + 1)
        return result


def _merged_pairs(node: Any) -> Iterator[tuple[Any, Any]]:
    """Mapping pairs with YAML merge keys (``<<: *base``) expanded first, as kops' parser does."""
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = value_node.value if value_node.id == "sequence" else [value_node]
            for source in sources:
                if source.id == "mapping":
                    yield from _merged_pairs(source)
        else:
            yield key_node, value_node


def _scalar(tag: str, value: str) -> Any:
    """Resolved YAML scalars to JSON values; others (timestamps, custom tags) stay text.

    Mirrors go-yaml v2, which kops decodes with: YAML 1.1 booleans, ``0x``/``0o``/leading
    zero octal integers, ``_`` separators.
    """
    suffix = tag.rsplit(":", 1)[-1]
    if suffix == "null":
        return None
    if suffix == "bool":
        return value.lower() in ("true", "yes", "on", "y")
    if suffix == "int":
        return _int(value)
    if suffix == "float":
        lowered = value.lower().replace("_", "")
        if lowered.lstrip("+-") in (".inf", "inf"):
            return -math.inf if lowered.startswith("-") else math.inf
        if lowered in (".nan", "nan"):
            return math.nan
        try:
            return float(lowered)
        except ValueError:
            return value
    return value


def _int(value: str) -> int | str:
    digits = value.replace("_", "")
    try:
        return int(digits, 0)
    except ValueError:
        pass
    body = digits.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body.isdigit():
        try:
            number = int(body, 8)
        except ValueError:  # "09": not octal; go-yaml reads it as a string
            return value
        return -number if digits.startswith("-") else number
    return value  # e.g. sexagesimal 1:30, which go-yaml v2 keeps as text
