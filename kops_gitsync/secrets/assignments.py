"""Credentials that are recognisable by the *name* they are given, not by their format.

A database password or an opaque API token has no shape; what gives it away is where it
sits: ``DB_PASSWORD=...`` in a user-data script, ``- name: DB_PASSWORD`` / ``value: ...``
in a container or kubelet ``env`` list, ``password:`` in cloud-config, ``Authorization:
Bearer ...`` in a curl line, ``aws_secret_access_key = ...`` in a credentials file. These
rules read the name, then judge the value: templates (``{{ .Token }}``, ``$DB_PASSWORD``),
references (``valueFrom``), paths, masks and empty values are not secrets, so the objects
kops itself writes (which name ``secretStore``, ``tokenFile``, ``serviceAccountToken``)
stay clean.

Every regular expression here is anchored on a keyword found in the lower-cased bytes, and
values are read with bounded patterns, so cost stays linear in the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kops_gitsync.secrets.finding import Finding, Lines, placeholder
from kops_gitsync.secrets.values import chosen, code, generated, opaque

# The names kops' own templates give cloud credentials (template_functions.go).
CLOUD_NAMES = frozenset(
    {
        "digitalocean_access_token",
        "hcloud_token",
        "scw_secret_key",
        "scw_access_key",
        "os_password",
        "os_application_credential_secret",
        "application-credential-secret",
    }
)
# Every secret-looking name contains one of these; each occurrence is a candidate name.
_WORDS = (b"pass", b"pwd", b"secret", b"token", b"key", b"credential")
_NAME_TAIL = re.compile(rb"[a-z0-9_.-]{0,64}")
_SEPARATOR = re.compile(rb"[\"']?[ \t]*(?::=|=>|[:=])[ \t]*")
# ``--token abc`` / ``--db-password=abc`` on a command line.
_FLAG = re.compile(
    rb"(?<![\w-])--[a-z0-9-]*(?:password|passwd|token|secret|api-key|secret-key)(?:=|[ \t]+)"
)
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_SECRET_NAME = re.compile(
    r"(password|passwd|passphrase|secret|token|api_?key|access_?key|secret_?key|private_?key"
    r"|auth_?key|credentials?)$"
)
# Short password names (``DB_PASS``, ``MYSQL_PWD``, ``dbPass``): the value must look chosen.
# A separator or a case change is required, so ``bypass`` and ``compass`` are not names.
_SHORT_PASS = re.compile(r"[_.](?:pass|pwd)$")
_CAMEL_PASS = re.compile(r"[a-z0-9](?:Pass|PASS|Pwd|PWD)$")
# Any ``*_KEY`` in an env name/value pair (``ENCRYPTION_KEY``): the value must look random.
_ANY_KEY = re.compile(r"(?:[_.](?:key|KEY)|[a-z0-9]Key)$")
# Bounded: a value is judged on at most its first 512 bytes.
_QUOTED = re.compile(rb"\"([^\"\n]{0,512})|'([^'\n]{0,512})")
# "&": ?token=abc&next=1; control bytes end a value (strings in a binary run together)
_BARE = re.compile(rb"[^\s,;&}\]#\"'\x00-\x1f\x7f]{1,512}")
# Env-style pairs, matched around a secret name already found (see _pair_value).
_NAME_KEY_BEFORE = re.compile(rb"name[\"']?[ \t]*:[ \t]*[\"']?$")
_PAIR_AFTER = re.compile(
    rb"[\"']?[ \t]*(?:,[ \t]*|\n[ \t]*(?:-[ \t]+)?)[\"']?value[\"']?[ \t]*:[ \t]*"
)
_VALUE_KEY = re.compile(rb"value[\"']?[ \t]*:[ \t]*")
_VALUE_LINE = re.compile(rb"[ \t]*(?:-[ \t]+)?[\"']?value[\"']?[ \t]*:[ \t]*")
_CHPASSWD = re.compile(
    rb"^([ \t]*)chpasswd:[ \t]*\n[ \t]+list:[ \t]*[|>][-+]?[ \t]*\n((?:\1[ \t]+[^\n]*(?:\n|$))+)",
    re.MULTILINE,
)
_BEARER = re.compile(rb"\b(bearer|basic)[ \t]+")
_BEARER_VALUE = re.compile(rb"[A-Za-z0-9._~+/=-]{16,512}")
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# Under an AWS secret key name, a little latitude: pasted keys gain or lose a character.
_AWS_NAMED = re.compile(rb"[A-Za-z0-9/+]{36,48}")
_SPACE = re.compile(rb"[ \t]+")
_PATHS = (b"/", b"./", b"~/", b"file:", b"@/")


def _value_at(data: bytes, offset: int) -> bytes:
    """The scalar that starts at ``offset``: quoted, or up to a space, comma or comment."""
    match = _QUOTED.match(data, offset) or _BARE.match(data, offset)
    if not match:
        return b""
    return next((g for g in match.groups() if g is not None), match.group(0))


def _aws_like(value: bytes, pattern: re.Pattern[bytes] = _AWS_SECRET) -> bool:
    """40 base64 characters with upper, lower case and digits: an AWS secret access key."""
    return (
        pattern.fullmatch(value) is not None
        and any(c.isupper() for c in value.decode())
        and any(c.islower() for c in value.decode())
        and any(c.isdigit() for c in value.decode())
    )


def _kind(name: str, pair: bool) -> str | None:
    """What a name says its value is: "password", "pass" (a short password name), "secret"
    (token, secret, api key, credentials), "key" (any ``*_KEY``, env pairs only), or None."""
    norm = name.lower().replace("-", "_")
    if _SECRET_NAME.search(norm):
        return "password" if norm.endswith(("password", "passwd", "passphrase")) else "secret"
    if _SHORT_PASS.search(norm) or _CAMEL_PASS.search(name):
        return "pass"
    if pair and "public" not in norm and _ANY_KEY.search(name.replace("-", "_")):
        return "key"
    return None


def _judge(
    name: str, value: bytes, *, pair: bool = False, spaced: bool = False
) -> tuple[str, str] | None:
    """(rule, name) if ``value`` under ``name`` is a credential, None if it is not.

    ``pair``: the name came from an env ``name:``/``value:`` pair, where any ``*_KEY`` is
    a candidate. ``spaced``: name and value were separated by blanks only (``aws configure
    set aws_secret_access_key X``), weaker evidence than ``=``/``:``, so the value must
    look generated (a password: chosen) whatever the name."""
    kind = _kind(name, pair)
    if kind is None:
        return None
    lowered = name.lower()
    value = value.strip()
    if placeholder(value) or value.startswith((b"|", b">", b"&", b"*", b"{", b"[", b"!")):
        return None
    if value.startswith(_PATHS) or value.endswith(b":") or b"secretkeyref" in value.lower():
        return None
    if len(value) < 4 or code(value):
        return None  # too short, or code: getpass(), AnonymousCredentials(), settings.secret_key
    aws = "aws" in lowered or "secret_access" in lowered or "secretaccess" in lowered
    if aws and _aws_like(value, _AWS_NAMED):
        return "aws-secret-key", "AWS secret key"
    if kind == "key":
        return ("credential", f"credential in {name}") if opaque(value, 16) else None
    if spaced and not (chosen(value) if kind in ("password", "pass") else generated(value)):
        return None
    if lowered.replace("-", "_") in CLOUD_NAMES or lowered == "aws_secret_access_key":
        return "cloud-credential", f"cloud credential {name}"
    if kind == "password" or (kind == "pass" and chosen(value)):
        return "password", f"password in {name}"
    if kind == "pass" or not generated(value):
        return None  # "token: 3600", "secret: not-a-secret-kind": words, not a token
    return "credential", f"credential in {name}"


def _names(data: bytes, lowered: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of every identifier holding a keyword, each once.

    ``bytes.find`` per keyword, then a bounded look either side, instead of one
    case-insensitive alternation (or a pattern per ``name:``) over every byte: 5x faster
    on kops manifests, which say ``name`` on every other line.
    """
    seen: set[int] = set()
    for word in _WORDS:
        at = lowered.find(word)
        while at >= 0:
            tail = _NAME_TAIL.match(lowered, at + len(word))
            end = tail.end() if tail else at + len(word)
            at = lowered.find(word, end)
            if end in seen:
                continue
            seen.add(end)
            start, floor = end - 1, max(0, end - 256)
            while start > floor and data[start - 1] in _NAME_BYTES:
                start -= 1
            yield start, end


def _pair_value(lowered: bytes, start: int, end: int) -> tuple[int, int] | None:
    """For a name given as ``name: NAME`` in an env-style list, where its value starts and
    where the finding goes (the ``value:`` line when it comes first, else the name's)."""
    line_start = lowered.rfind(b"\n", 0, start) + 1
    key = _NAME_KEY_BEFORE.search(lowered, max(line_start, start - 32), start)
    if not key:
        return None
    after = _PAIR_AFTER.match(lowered, end)
    if after:  # name first: same line (flow, JSON) or the next
        return key.start(), after.end()
    flow = _VALUE_KEY.search(lowered, line_start, key.start())
    if flow:  # {value: x, name: NAME}
        return flow.start(), flow.end()
    if line_start:  # value on the line above
        above = lowered.rfind(b"\n", 0, line_start - 1) + 1
        block = _VALUE_LINE.match(lowered, above, line_start - 1)
        if block:
            return above, block.end()
    return None


def _named_values(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    """``NAME: value``, ``NAME=value``, ``"NAME": "value"``, and env-style pairs
    ``- name: NAME`` / ``value: ...`` (block or flow, either order), for secret names."""
    for start, end in _names(data, lowered):
        name = data[start:end].decode("ascii", "replace").lstrip("-.")
        if _kind(name, pair=True) is None:
            continue
        separator = _SEPARATOR.match(lowered, end)
        pair = None if separator else _pair_value(lowered, start, end)
        if separator:
            where, verdict = start, _judge(name, _value_at(data, separator.end()))
        elif pair:
            where, verdict = pair[0], _judge(name, _value_at(data, pair[1]), pair=True)
        else:
            where, verdict = start, _spaced(data, name, start, end)
        if verdict:
            yield Finding(line_of(where), *verdict)
    for match in _FLAG.finditer(lowered):
        name = match.group(0).strip(b"-= \t").decode("ascii")
        verdict = _judge(name, _value_at(data, match.end()))
        if verdict:
            yield Finding(line_of(match.start()), *verdict)


def _spaced(data: bytes, name: str, start: int, end: int) -> tuple[str, str] | None:
    """``aws configure set aws_secret_access_key VALUE``: a compound secret name given as a
    command-line word (blank before it, blanks after), then the value on the same line."""
    if (start and data[start - 1] not in b" \t") or not ("_" in name or "-" in name):
        return None
    if data[start : start + 1] == b"-":
        return None  # a --flag: _FLAG reads those
    blank = _SPACE.match(data, end)
    if not blank or data[blank.end() : blank.end() + 1] in (b"-", b"\n", b""):
        return None
    return _judge(name, _value_at(data, blank.end()), spaced=True)


def _auth_headers(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    for match in _BEARER.finditer(lowered):
        if (
            match.group(1) == b"basic"
            and b"authorization" not in lowered[max(0, match.start() - 40) : match.start()]
        ):
            continue  # "basic" alone is an ordinary word
        value = _BEARER_VALUE.match(data, match.end())
        if value and not placeholder(value.group(0)):
            kind = "Bearer token" if match.group(1) == b"bearer" else "HTTP Basic credentials"
            rule = "bearer-token" if match.group(1) == b"bearer" else "basic-auth-header"
            yield Finding(line_of(match.start()), rule, kind)


def _aws_near_secret(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    """A 40-character AWS secret access key on the line after the word "secret"."""
    at = lowered.find(b"secret")
    while at >= 0:
        end = lowered.find(b"\n", at, at + 160)
        window = slice(at, at + 160 if end < 0 else end)
        for match in _AWS_SECRET.finditer(data, window.start, window.stop):
            if _aws_like(match.group(0)):
                yield Finding(line_of(at), "aws-secret-key", "AWS secret key")
                break
        at = lowered.find(b"secret", window.stop)


def _chpasswd(data: bytes, line_of: Lines) -> Iterator[Finding]:
    """cloud-config ``chpasswd: {list: |}`` lines ``user:password`` (RANDOM and hashes
    excepted): the old cloud-init form, still common in user data."""
    for block in _CHPASSWD.finditer(data):
        offset = block.start(2)
        for entry in block.group(2).split(b"\n"):
            user, _, password = entry.strip().partition(b":")
            if (
                user
                and password
                and password.upper() not in (b"RANDOM", b"R")
                and not placeholder(password)
            ):
                yield Finding(
                    line_of(offset),
                    "password",
                    f"password of {user.decode('ascii', 'replace')} in chpasswd",
                )
            offset += len(entry) + 1


def find(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    """Every named credential in ``data``; ``lowered`` is ``data.lower()``."""
    if any(word in lowered for word in _WORDS):
        yield from _named_values(data, lowered, line_of)
    if b"chpasswd" in lowered:
        yield from _chpasswd(data, line_of)
    if b"bearer" in lowered or b"basic" in lowered:
        yield from _auth_headers(data, lowered, line_of)
    if b"secret" in lowered:
        yield from _aws_near_secret(data, lowered, line_of)
