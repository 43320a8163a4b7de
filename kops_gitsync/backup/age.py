"""age encryption through pyrage (a maintained binding of rage, the Rust age), lazily.

Why age and pyrage: age is what operators already use for secrets in git (sops, agenix),
its files decrypt with the stock ``age -d -i key.txt`` (no kops-gitsync needed in a disaster),
and pyrage wraps the audited rage implementation instead of hand-written crypto. pyrage is
an extra (``kops-gitsync[age]``), imported only when a store uses ``secrets: encrypt``, so the
hooks and every other command start without it.

The identity (private key) is read only from the file ``KOPS_GITSYNC_AGE_IDENTITY`` names,
kept in memory, and never written anywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kops_gitsync.errors import FatalError, MissingDependency

IDENTITY_ENV = "KOPS_GITSYNC_AGE_IDENTITY"
BINARY_HEADER = b"age-encryption.org/v1\n"
ARMOR_HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")  # bech32, X25519: 58 data characters
_STANZA = re.compile(rb"^-> [\x21-\x7e]+( [\x21-\x7e]+)*$")
_BODY = re.compile(rb"^[A-Za-z0-9+/]{0,64}$")
_MAC = re.compile(rb"^--- [A-Za-z0-9+/]{43}$")
MAX_IDENTITY_BYTES = 64 * 1024


def _pyrage() -> Any:
    try:
        import pyrage
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            f"`secrets: encrypt` needs the Python package {exc.name!r}: "
            "pip install 'kops-gitsync[age]'"
        ) from exc
    return pyrage


def recipient_problem(text: str) -> str | None:
    """Why ``text`` is not an age X25519 public key (``age1...``), or None.

    The shape is checked without pyrage (config checks run in every hook); the checksum is
    checked by :func:`parse_recipients` when a pull encrypts."""
    if text.startswith("AGE-SECRET-KEY-"):
        return "is an age *secret* key; put only public keys (age1...) in the config"
    if not _RECIPIENT.fullmatch(text):
        return "is not an age public key (age1 followed by 58 bech32 characters)"
    return None


def parse_recipients(texts: Sequence[str], where: str) -> list[Any]:
    pyrage = _pyrage()
    out = []
    for n, text in enumerate(texts):
        try:
            out.append(pyrage.x25519.Recipient.from_str(text))
        except pyrage.RecipientError as exc:
            raise FatalError(f"{where}[{n}]: {text[:12]}... is not a valid age public key "
                             f"({exc})") from None
    if not out:
        raise FatalError(f"{where}: `secrets: encrypt` needs at least one age public key")
    return out


def encrypt(data: bytes, recipients: Sequence[Any]) -> bytes:
    """Binary age format (``age-encryption.org/v1``), as ``age -r`` writes it."""
    result: bytes = _pyrage().encrypt(data, list(recipients))
    return result


def load_identities(env: Mapping[str, str] | None = None) -> list[Any]:
    """The identities in the file ``KOPS_GITSYNC_AGE_IDENTITY`` names (age-keygen output)."""
    env = os.environ if env is None else env
    name = env.get(IDENTITY_ENV, "")
    if not name:
        raise FatalError(f"decrypting secrets needs {IDENTITY_ENV}=<file with an age identity "
                         "(age-keygen output)>; it is not set")
    path = Path(name)
    try:
        raw = path.read_bytes()[: MAX_IDENTITY_BYTES + 1]
    except OSError as exc:
        raise FatalError(f"{IDENTITY_ENV}={name}: cannot read it ({exc.strerror})") from None
    pyrage = _pyrage()
    found = []
    for line in raw.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise FatalError(f"{IDENTITY_ENV}={name}: holds a line that is not an age X25519 "
                             "identity (AGE-SECRET-KEY-1...)") from None
    if not found or len(raw) > MAX_IDENTITY_BYTES:
        raise FatalError(f"{IDENTITY_ENV}={name}: no age identity in it (expected the output "
                         "of age-keygen)")
    return found


def decrypt(data: bytes, identities: Sequence[Any], where: str) -> bytes:
    """The plaintext, or a FatalError naming ``where`` (damaged, or not for these keys)."""
    pyrage = _pyrage()
    if not is_age(data):
        raise FatalError(f"{where} is not an age-encrypted file (no age header); nothing "
                         "was written")
    try:
        result: bytes = pyrage.decrypt(data, list(identities))
    except pyrage.DecryptError as exc:
        raise FatalError(
            f"{where} cannot be decrypted with the identity in {IDENTITY_ENV} ({exc}): it is "
            "damaged or encrypted to other keys; nothing was written") from None
    return result


def is_age(data: bytes) -> bool:
    """Does ``data`` begin with a well-formed age header (binary or ASCII armor)?

    Checked by grammar, without keys: the version line, one or more recipient stanzas with
    base64 bodies, and the ``---`` MAC line (age-encryption.org/v1). Armored files are
    judged by their armor line; their payload is base64 of the same format."""
    if data.startswith(ARMOR_HEADER):
        return _armored(data)
    if not data.startswith(BINARY_HEADER):
        return False
    lines = data[len(BINARY_HEADER): 64 * 1024].split(b"\n")
    stanzas = 0
    for line in lines:
        if _MAC.match(line):
            return stanzas > 0
        if line.startswith(b"-> "):
            if not _STANZA.match(line):
                return False
            stanzas += 1
        elif not (stanzas and _BODY.match(line)):
            return False
    return False


def _armored(data: bytes) -> bool:
    import base64
    import binascii

    text = data.replace(b"\r\n", b"\n").strip()
    if not text.endswith(b"-----END AGE ENCRYPTED FILE-----"):
        return False
    body = text[len(ARMOR_HEADER): -len(b"-----END AGE ENCRYPTED FILE-----")]
    try:
        decoded = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return decoded.startswith(BINARY_HEADER) and is_age(decoded)
