"""Find secret material in bytes, including the forms kops hides it in.

Used twice: by pull, as a last line of defence before bytes become a git blob, and by the
``kops-no-secrets`` hook on staged files. Key-based policy (sync/policy.py) already keeps
``pki/private/`` and ``secrets/`` out; this looks at *content*, because kops stores private
keys as base64 of PEM inside YAML (a PEM scanner sees only base64), secrets as base64 inside
JSON, and copies cloud API tokens into addon manifests in plain text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

_PEM_PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")
_PRIVATE_MATERIAL = re.compile(rb"^\s*privateMaterial:\s*(\S+)", re.MULTILINE)
_AWS_ACCESS_KEY = re.compile(rb"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
# Environment variables kops copies into addon manifests (template_functions.go).
_CLOUD_TOKENS = re.compile(
    rb"(DIGITALOCEAN_ACCESS_TOKEN|HCLOUD_TOKEN|SCW_SECRET_KEY|SCW_ACCESS_KEY|OS_PASSWORD"
    rb"|OS_APPLICATION_CREDENTIAL_SECRET|AWS_SECRET_ACCESS_KEY|application-credential-secret"
    rb"|\bpassword)[ \t]*[:=][ \t]*[\"']?([^\s\"',}]+)",
    re.IGNORECASE,
)
# A case-insensitive alternation is the slowest pattern here by far; a plain substring test
# on the lower-cased bytes rules most files out first.
_CLOUD_TOKEN_WORDS = (
    b"digitalocean_access_token", b"hcloud_token", b"scw_secret_key", b"scw_access_key",
    b"os_password", b"os_application_credential_secret", b"aws_secret_access_key",
    b"application-credential-secret", b"password",
)
_PLACEHOLDERS = {b"redacted", b"null", b"none", b"", b"~", b"changeme", b"xxx", b"<redacted>"}
# A Kubernetes Secret in a manifest: kops renders the hcloud, DigitalOcean, Scaleway and
# OpenStack credentials into ``stringData`` under keys such as ``token`` or ``access-token``,
# names no keyword list can anticipate. So any non-placeholder value under ``data:`` or
# ``stringData:`` of a ``kind: Secret`` document counts.
_DOCUMENT_START = re.compile(rb"^---[ \t]*$", re.MULTILINE)
_SECRET_KIND = re.compile(rb"^kind:[ \t]*[\"']?Secret[\"']?[ \t]*$", re.MULTILINE)
_SECRET_DATA = re.compile(rb"^(data|stringData):[ \t]*(#.*)?$", re.MULTILINE)
# ``stringData: {token: abc}``: the flow style people write by hand (and docs show).
_SECRET_FLOW_DATA = re.compile(rb"^(?:data|stringData):[ \t]*\{(.*)\}[ \t]*(?:#.*)?$", re.MULTILINE)
# A container env entry: ``- name: HCLOUD_TOKEN`` with ``value: ...`` on the next line.
_ENV_TOKEN = re.compile(
    rb"name:[ \t]*[\"']?(DIGITALOCEAN_ACCESS_TOKEN|HCLOUD_TOKEN|SCW_SECRET_KEY|SCW_ACCESS_KEY"
    rb"|OS_PASSWORD|OS_APPLICATION_CREDENTIAL_SECRET|AWS_SECRET_ACCESS_KEY)[\"']?[ \t]*\n"
    rb"[ \t]*-?[ \t]*value:[ \t]*[\"']?([^\s\"']+)",
)
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


@dataclass(frozen=True)
class SecretFinding:
    line: int
    rule: str
    message: str


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


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
    except (ValueError, UnicodeDecodeError, RecursionError):  # [[[[... crashed pull's readers
        return False
    return isinstance(doc, dict) and isinstance(doc.get("Data"), str) and bool(doc["Data"])


def _placeholder(value: bytes) -> bool:
    value = value.strip().strip(b"\"'")
    return value.lower() in _PLACEHOLDERS or value.startswith(b"{{") or value in (b"{}", b"[]")


def _k8s_secret_values(data: bytes) -> list[int]:
    """Lines of Secret documents whose ``data``/``stringData`` hold a real value.

    Only the block's own entries count; a block scalar (``cloud.config: |``) is left to the
    keyword rules, which look inside it for ``password=``.
    """
    lines: list[int] = []
    starts = [0, *(m.end() for m in _DOCUMENT_START.finditer(data))]
    ends = [m.start() for m in _DOCUMENT_START.finditer(data)] + [len(data)]
    for start, end in zip(starts, ends, strict=True):
        document = data[start:end]
        if not _SECRET_KIND.search(document):
            continue
        for flow in _SECRET_FLOW_DATA.finditer(document):
            values = [item.partition(b":")[2] for item in flow.group(1).split(b",")]
            if any(not _placeholder(value) for value in values if value.strip()):
                lines.append(_line_of(data, start + flow.start()))
        for block in _SECRET_DATA.finditer(document):
            offset = block.end() + 1
            indent: bytes | None = None
            for raw in document[offset:].split(b"\n"):
                if raw.strip() and not raw[:1].isspace():
                    break  # back at the document's top level
                entry = _ENTRY.match(raw)
                if entry and indent is None:
                    indent = entry.group(1)
                if entry and entry.group(1) == indent:
                    value = entry.group(2)
                    if not value.startswith((b"|", b">")) and not _placeholder(value):
                        lines.append(_line_of(data, start + offset))
                offset += len(raw) + 1
    return lines


def scan(data: bytes) -> list[SecretFinding]:
    """Every place in ``data`` that looks like secret material, in file order."""
    data = data.replace(b"\r\n", b"\n")  # CRLF files must not slip past line-anchored rules
    findings: list[SecretFinding] = []
    for match in _PEM_PRIVATE.finditer(data):
        findings.append(
            SecretFinding(_line_of(data, match.start()), "pem-private-key", "PEM private key")
        )
    for match in _PRIVATE_MATERIAL.finditer(data):
        value = match.group(1).strip(b"\"'")
        if value.lower() not in _PLACEHOLDERS:
            findings.append(
                SecretFinding(
                    _line_of(data, match.start()),
                    "kops-keyset-private",
                    "kops keyset privateMaterial (base64 of a private key)",
                )
            )
    if _kops_secret_json(data):
        findings.append(SecretFinding(1, "kops-secret", 'kops secret ({"Data": base64})'))
    seen_lines = {f.line for f in findings}
    runs = _BASE64_RUN.finditer(data) if _BASE64_PRIVATE_HINT.search(data) else iter(())
    for match in runs:
        if not _BASE64_PRIVATE_HINT.search(match.group(0)):
            continue
        line = _line_of(data, match.start())
        if line in seen_lines:
            continue
        decoded = _b64decode(match.group(0))
        if decoded and _PEM_PRIVATE.search(decoded):
            findings.append(
                SecretFinding(line, "base64-private-key", "base64-encoded PEM private key")
            )
            seen_lines.add(line)
    for match in _AWS_ACCESS_KEY.finditer(data):
        findings.append(
            SecretFinding(_line_of(data, match.start()), "aws-access-key", "AWS access key id")
        )
    lowered = data.lower()
    has_token_word = any(word in lowered for word in _CLOUD_TOKEN_WORDS)
    for match in _CLOUD_TOKENS.finditer(data) if has_token_word else iter(()):
        if match.group(2).lower() in _PLACEHOLDERS or match.group(2).startswith(b"{{"):
            continue
        name = match.group(1).decode("ascii", "replace")
        findings.append(
            SecretFinding(
                _line_of(data, match.start()), "cloud-credential", f"cloud credential {name}"
            )
        )
    for match in _ENV_TOKEN.finditer(data) if has_token_word else iter(()):
        if not _placeholder(match.group(2)):
            name = match.group(1).decode("ascii", "replace")
            findings.append(
                SecretFinding(
                    _line_of(data, match.start()), "cloud-credential", f"cloud credential {name}"
                )
            )
    seen_lines = {f.line for f in findings}
    for line in _k8s_secret_values(data):
        if line not in seen_lines:
            findings.append(
                SecretFinding(
                    line, "k8s-secret-data", "Kubernetes Secret with data (cloud credentials?)"
                )
            )
    return sorted(findings, key=lambda f: f.line)
