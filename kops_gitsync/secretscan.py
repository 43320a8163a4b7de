"""Find secret material in bytes, including the forms kops hides it in.

Used twice: by pull, as a last line of defence before bytes become a git blob, and by the
``kops-no-secrets`` hook on staged files, so both apply the same rules. Key-based policy
(sync/policy.py) already keeps ``pki/private/`` and ``secrets/`` out; this looks at
*content*. The rules live in ``kops_gitsync.secrets``: kops' own forms, well-known token
formats (detect-secrets' plugins, imported only when a candidate is present), and
credentials recognised by the name they are assigned to. docs/secrets.md lists them.

Public interface::

    findings(data: bytes) -> list[Finding]   # each with .line, .rule (id) and .name (words)
    scan(data: bytes) -> list[Finding]       # the same; truthy when anything looks secret
"""

from __future__ import annotations

import itertools

from kops_gitsync.secrets import assignments, commands, kops, tokens
from kops_gitsync.secrets.finding import Finding, Lines

SecretFinding = Finding  # the name this class had before rule names were added
# Per rule family. Past this many, more of them tell nobody anything, and an input built to
# match everywhere (a megabyte of "PASSWORD=x ") must not cost time in proportion.
MAX_FINDINGS = 1000

# Rules that add nothing on a line where a more specific rule fired ("password in
# AWS_SECRET_ACCESS_KEY" next to "AWS secret key"); base64-private-key only yields to the
# keyset rule, which names the same bytes.
_GENERIC = frozenset({"credential", "password", "k8s-secret-data", "base64-private-key"})


def _redundant(finding: Finding, rules_on_line: set[str]) -> bool:
    if finding.rule == "base64-private-key":
        return "kops-keyset-private" in rules_on_line
    return finding.rule in _GENERIC and bool(rules_on_line - _GENERIC)


def findings(data: bytes) -> list[Finding]:
    """Every place in ``data`` that looks like secret material, in file order.

    Never raises on any input (binary, invalid UTF-8, NUL bytes), and runs in time linear
    in its size: every pattern is anchored on a literal and reads bounded spans.
    """
    data = data.replace(b"\r\n", b"\n")  # CRLF files must not slip past line-anchored rules
    lowered = data.lower()  # bytes.lower keeps every offset
    line_of = Lines(data)
    found = {
        *itertools.islice(kops.find(data, line_of), MAX_FINDINGS),
        *itertools.islice(tokens.find(data, lowered, line_of), MAX_FINDINGS),
        *itertools.islice(assignments.find(data, lowered, line_of), MAX_FINDINGS),
        *itertools.islice(commands.find(data, lowered, line_of), MAX_FINDINGS),
    }
    by_line: dict[int, set[str]] = {}
    for finding in found:
        by_line.setdefault(finding.line, set()).add(finding.rule)
    kept = [f for f in found if not _redundant(f, by_line[f.line])]
    return sorted(kept, key=lambda f: (f.line, f.rule))


def scan(data: bytes) -> list[Finding]:
    """``findings(data)``, under the name pull calls: truthy when ``data`` looks secret."""
    return findings(data)
