"""Secret forms only kops produces, which no general-purpose scanner knows.

Key-based policy (sync/policy.py) already keeps ``pki/private/`` and ``secrets/`` out; these
rules look at *content*, because kops stores private keys as base64 of PEM inside YAML (a PEM
scanner sees only base64), secrets as base64 inside JSON, and renders cloud API tokens into
addon manifests as Kubernetes Secrets whose keys (``token``, ``access-token``) no keyword list
can anticipate. Etcd backups are left to key policy: they are binary and never scanned here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator

from kops_gitsync.secrets.finding import Finding, Lines, placeholder

PEM_PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")
_PRIVATE_MATERIAL = re.compile(rb"^[ \t]*(?:-[ \t]+)?privateMaterial:[ \t]*(\S+)", re.MULTILINE)
_DOCUMENT_START = re.compile(rb"^---[ \t]*$", re.MULTILINE)
_SECRET_KIND = re.compile(rb"^kind:[ \t]*[\"']?Secret[\"']?[ \t]*$", re.MULTILINE)
_SECRET_DATA = re.compile(rb"^(data|stringData):[ \t]*(#.*)?$", re.MULTILINE)
# ``stringData: {token: abc}``: the flow style people write by hand (and docs show).
_SECRET_FLOW_DATA = re.compile(rb"^(?:data|stringData):[ \t]*\{(.*)\}[ \t]*(?:#.*)?$", re.MULTILINE)
_ENTRY = re.compile(rb"^([ \t]+)[^\s:#][^:]*:[ \t]*(.*?)[ \t]*$")


def _base64_hints(marker: bytes) -> re.Pattern[bytes]:
    """What ``marker`` looks like inside base64 text, at each of the three alignments.

    Decoding every long base64 run (certificates fill nodeupconfig files) is the scanner's
    main cost; a run can only hide a private key if one of these fragments occurs in it.
    """
    fragments = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + marker)
        head = -(-shift * 4 // 3)  # characters that still carry the padding bytes
        tail = len(encoded) - (4 if (shift + len(marker)) % 3 else 0)
        fragments.append(re.escape(encoded[head:tail]))
    return re.compile(b"|".join(fragments))


_BASE64_PRIVATE_HINT = _base64_hints(b"PRIVATE KEY")


def _b64decode(token: bytes) -> bytes | None:
    try:
        return base64.b64decode(token + b"=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _kops_secret_json(data: bytes) -> bool:
    """``secrets/<name>``: JSON ``{"Data": "<base64>"}``."""
    if not data.lstrip().startswith(b"{") or b'"Data"' not in data:
        return False
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("Data"), str) and bool(doc["Data"])


def _lines_from(data: bytes, offset: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) from ``offset`` to ``stop``, lazily: a caller that stops early pays
    for no more (a Secret with thousands of ``data:`` blocks must not cost their square)."""
    while offset <= stop:
        end = data.find(b"\n", offset, stop)
        end = stop if end < 0 else end
        yield offset, data[offset:end]
        offset = end + 1


def _k8s_secret_values(data: bytes) -> Iterator[int]:
    """Offsets of entries of Secret documents whose ``data``/``stringData`` hold a value.

    Only the block's own entries count; a block scalar (``cloud.config: |``) is left to the
    assignment rules, which look inside it for ``password=``.
    """
    if not _SECRET_KIND.search(data):
        return
    starts = [0, *(m.end() for m in _DOCUMENT_START.finditer(data))]
    ends = [m.start() for m in _DOCUMENT_START.finditer(data)] + [len(data)]
    for start, end in zip(starts, ends, strict=True):
        if not _SECRET_KIND.search(data, start, end):
            continue
        for flow in _SECRET_FLOW_DATA.finditer(data, start, end):
            values = [item.partition(b":")[2] for item in flow.group(1).split(b",")]
            if any(not placeholder(value) for value in values if value.strip()):
                yield flow.start()
        for block in _SECRET_DATA.finditer(data, start, end):
            indent: bytes | None = None
            for offset, raw in _lines_from(data, block.end() + 1, end):
                if raw.strip() and not raw[:1].isspace():
                    break  # back at the document's top level
                entry = _ENTRY.match(raw)
                if entry and indent is None:
                    indent = entry.group(1)
                if entry and entry.group(1) == indent:
                    value = entry.group(2)
                    if not value.startswith((b"|", b">")) and not placeholder(value):
                        yield offset


def find(data: bytes, line_of: Lines) -> Iterator[Finding]:
    """Every kops-specific secret form in ``data`` (LF line ends)."""
    for match in PEM_PRIVATE.finditer(data):
        yield Finding(line_of(match.start()), "pem-private-key", "PEM private key")
    for match in _PRIVATE_MATERIAL.finditer(data):
        if not placeholder(match.group(1)):
            yield Finding(
                line_of(match.start()),
                "kops-keyset-private",
                "kops keyset privateMaterial (base64 of a private key)",
            )
    if _kops_secret_json(data):
        yield Finding(1, "kops-secret", 'kops secret ({"Data": base64})')
    if _BASE64_PRIVATE_HINT.search(data):
        for match in _BASE64_RUN.finditer(data):
            if _BASE64_PRIVATE_HINT.search(match.group(0)):
                decoded = _b64decode(match.group(0))
                if decoded and PEM_PRIVATE.search(decoded):
                    yield Finding(
                        line_of(match.start()),
                        "base64-private-key",
                        "base64-encoded PEM private key",
                    )
    for offset in _k8s_secret_values(data):
        yield Finding(
            line_of(offset), "k8s-secret-data", "Kubernetes Secret with data (credentials?)"
        )
