"""Printing findings: ``path:line:column: rule-id: message`` for people, JSON for tools.

The text form is the compiler convention editors and CI log parsers already understand
(one finding per line, clickable positions). Warnings carry a ``(warning)`` suffix so a
reader can tell why the exit status is still 0. The JSON form is stable: a list of
objects with exactly the ``Finding`` fields, plus counts.

File names and messages (which quote names from the YAML) are escaped in the text form, so a
file or an object named with a newline cannot forge a finding line, or hide one; JSON escapes
them by itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

from kops_gitsync.validate import Finding
from kops_gitsync.vfs.keys import escape_controls, printable


def format_finding(finding: Finding) -> str:
    suffix = "" if finding.severity == "error" else f" ({finding.severity})"
    where = f"{printable(finding.path)}:{finding.line}:{finding.column}"
    return f"{where}: {escape_controls(finding.rule)}: {escape_controls(finding.message)}{suffix}"


def format_text(findings: Iterable[Finding]) -> str:
    lines = [format_finding(finding) for finding in findings]
    return "\n".join(lines) + ("\n" if lines else "")


def format_json(findings: Sequence[Finding], clusters: int | None = None,
                schemas: Mapping[str, str] | None = None) -> str:
    """``schemas``: cluster folder -> which kops minor's schema checked it (and why)."""
    errors = sum(1 for f in findings if f.severity == "error")
    document: dict[str, object] = {
        "findings": [asdict(finding) for finding in findings],
        "errors": errors,
        "warnings": len(findings) - errors,
        "clusters": clusters,
    }
    if schemas is not None:
        document["schemas"] = dict(schemas)
    return json.dumps(document, indent=2) + "\n"


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)
