"""``secrets: encrypt``: age-encrypted copies of a store's secrets, beside the mirror.

Layout (one store ``prod``; chosen so the mirror stays a valid ``file://`` store that kops
could read, and so no hook, validation or push planning of the mirror ever sees them)::

    .kops-gitsync/encrypted/prod.json                       the index (below)
    .kops-gitsync/encrypted/prod/<key>.age                  age ciphertext of one secret

``age -d -i key.txt .kops-gitsync/encrypted/prod/<key>.age`` gives the object's bytes.

The index records, per secret, the store version, size and SHA-256 of the plaintext, and
the recipients it was encrypted to. age output is randomized, so the index is what keeps a
pull from re-encrypting an unchanged secret (no diff noise): same version, or same SHA-256,
and same recipients -> the copy stays. It is also what restore checks a decrypted copy
against. Messages name a secret by key and ``sha256:`` + 12 hex digits, never by value.

Which objects: ``policy.encryptable``: what sync/policy.py classifies ``Kind.SECRET``
(``pki/private/``, ``secrets/``, ``*.key``) and etcd-manager's small control files
(``backups/etcd/*/control/``), inside the store's include/exclude patterns. etcd snapshots
stay out of git: large, rewritten every 15 minutes, and etcd-manager keeps its own.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kops_gitsync.backup.verify import read_each
from kops_gitsync.errors import FatalError, ObjectTooLarge
from kops_gitsync.fingerprint import fingerprint
from kops_gitsync.sync.policy import encryptable
from kops_gitsync.sync.syncstate import STATE_DIR, Recorded
from kops_gitsync.vfs.base import Blob, ObjectInfo
from kops_gitsync.vfs.keys import key_problem, printable

if TYPE_CHECKING:
    from kops_gitsync.sync.context import SyncContext
    from kops_gitsync.sync.journal import Applied

ENCRYPTED_DIR = f"{STATE_DIR}/encrypted"
SUFFIX = ".age"
FORMAT = 1


def copy_dir(store: str) -> str:
    return f"{ENCRYPTED_DIR}/{store}"


def copy_path(store: str, key: str) -> str:
    return f"{copy_dir(store)}/{key}{SUFFIX}"


def index_path(store: str) -> str:
    return f"{ENCRYPTED_DIR}/{store}.json"


def encrypts(ctx: SyncContext, key: str) -> bool:
    """Is ``key`` kept in git as an encrypted copy under this store's config?"""
    return ctx.config.secrets == "encrypt" and encryptable(key) and ctx.policy.selected(key)


@dataclass
class Index:
    recipients: tuple[str, ...] = ()
    objects: dict[str, Recorded] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        lines = ["{", f'  "format": {FORMAT},',
                 f'  "recipients": {json.dumps(sorted(self.recipients))},', '  "objects": {']
        items = sorted(self.objects.items())
        for n, (key, rec) in enumerate(items):
            entry = json.dumps({"version": rec.version, "size": rec.size, "sha256": rec.sha256},
                               sort_keys=True, ensure_ascii=False)
            comma = "," if n < len(items) - 1 else ""
            lines.append(f"    {json.dumps(key, ensure_ascii=False)}: {entry}{comma}")
        lines += ["  }", "}"]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Index:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"unknown format {doc.get('format')!r}")
            objects = {}
            for key, v in doc["objects"].items():
                problem = key_problem(key)
                if problem or not encryptable(key):
                    raise ValueError(f"{printable(key)!r} is not a secret's key")
                rec = Recorded(v["version"], v["size"], v["sha256"])
                if not all(isinstance(x, str) for x in (rec.version, rec.sha256)) or \
                        not isinstance(rec.size, int):
                    raise TypeError(printable(key))
                objects[key] = rec
            recipients = tuple(str(r) for r in doc["recipients"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise FatalError(f"the encrypted-secrets index {where} is damaged ({exc})") from None
        return cls(recipients, objects)


def read_index(ctx: SyncContext, commit: str | None) -> Index:
    path = index_path(ctx.name)
    data = ctx.repo.read_file(commit, path) if commit else None
    return Index() if data is None else Index.from_bytes(data, f"{(commit or '')[:12]}:{path}")


@dataclass
class Sealed:
    """What one pull changes in the encrypted copies: repo path -> blob (None: remove)."""

    changes: dict[str, str | None] = field(default_factory=dict)
    note: str = ""


def encrypted_copies(ctx: SyncContext, listing: Iterable[ObjectInfo], tip: str | None) -> Sealed:
    """The pull's one call: encrypt new or changed secrets, drop vanished ones.

    Reads only secrets whose store version moved (or all of them when the recipients
    changed: that is how a key rotation re-encrypts); an unchanged plaintext keeps its copy.
    """
    previous = read_index(ctx, tip)
    if ctx.config.secrets != "encrypt":
        if not previous.objects:
            return Sealed()
        gone = {copy_path(ctx.name, k): None for k in previous.objects}
        return Sealed({**gone, index_path(ctx.name): None},
                      "Encrypted secret copies removed (the store no longer uses "
                      "`secrets: encrypt`).")
    from kops_gitsync.backup import age

    recipients = tuple(sorted(ctx.config.age_recipients))
    keys = age.parse_recipients(recipients, f"store {ctx.name!r} age_recipients")
    # A state adopted from a branch was never read by this clone: its copies are not
    # trusted to hold what its index says, so every secret is encrypted afresh once.
    rotated = previous.recipients != recipients or ctx.adopted_path.exists()
    index = Index(recipients)
    secrets = {o.key: o for o in listing if encrypts(ctx, o.key)}
    to_read = []
    for key, info in secrets.items():
        rec = previous.objects.get(key)
        if rec is not None and rec.version == info.version and not rotated:
            index.objects[key] = rec
        else:
            to_read.append(key)
    sealed = Sealed()
    new: list[str] = []
    changed: list[str] = []
    ciphertexts: dict[str, bytes] = {}
    for key, blob in _read(ctx, sorted(to_read)).items():
        if blob is None:
            if key in previous.objects:
                index.objects[key] = previous.objects[key]  # unreadable now: keep the copy
            continue
        data = blob.data
        digest = hashlib.sha256(data).hexdigest()
        rec = previous.objects.get(key)
        index.objects[key] = Recorded(blob.version, len(data), digest)  # the version read
        if rec is not None and rec.sha256 == digest and not rotated:
            continue  # a new version with the same bytes: the copy stays as it is
        ciphertexts[copy_path(ctx.name, key)] = age.encrypt(data, keys)
        (changed if rec is not None else new).append(f"{key} ({fingerprint(digest)})")
    # one git fast-import for all of them, not one git process per copy
    sealed.changes.update(zip(ciphertexts, ctx.repo.write_blobs(list(ciphertexts.values())),
                              strict=True))
    removed = sorted(set(previous.objects) - set(index.objects))
    for key in removed:
        sealed.changes[copy_path(ctx.name, key)] = None
    data = index.to_bytes()
    if ctx.repo.read_file(tip, index_path(ctx.name)) != data:
        sealed.changes[index_path(ctx.name)] = ctx.repo.write_blob(data)
    parts = []
    for label, names in (("new", new), ("re-encrypted" if rotated else "changed", changed),
                         ("removed", removed)):
        if names:
            parts.append(f"{label}: {', '.join(printable(n) for n in names)}")
    if parts:
        sealed.note = (f"Encrypted secret copies ({copy_dir(ctx.name)}/, age): "
                       + "; ".join(parts) + ".")
    return sealed


def _read(ctx: SyncContext, keys: list[str]) -> dict[str, Blob | None]:
    """Secrets are a few KB each; a small pool hides the per-request latency."""
    limit = ctx.config.max_object_size

    def one(key: str) -> tuple[str, Blob | None]:
        try:
            return key, ctx.store.read(key, max_bytes=limit)
        except FileNotFoundError:
            return key, None
        except ObjectTooLarge:
            print(f"kops-gitsync pull: secret {printable(key)} is over {limit} bytes; "
                  "no encrypted copy made", file=sys.stderr)
            return key, None

    return read_each(keys, one)


# --- push: the encrypted copies as one more input of the planner --------------------------

def add_encrypted_sides(
    ctx: SyncContext, base_commit: str, commit: str, base: dict[str, Recorded],
    ours: dict[str, str], blobs: dict[str, str],
) -> None:
    """Add the secrets to push's three-way inputs (sync/push.py ``gather_sides``).

    *base*: the index at the base commit. *ours*: the index's digest for an unchanged copy,
    the decrypted digest for a copy the pushed commit changed (needs the identity), whose
    git blob (ciphertext) goes to the journal. A copy deleted in git is *not* a deletion in
    the store: a private key is removed with kops, never by a missing file.
    """
    if ctx.config.secrets != "encrypt":
        return
    repo = ctx.repo
    before = read_index(ctx, base_commit)
    base_tree = repo.read_tree(base_commit, copy_dir(ctx.name))
    ours_tree = repo.read_tree(commit, copy_dir(ctx.name))
    for key, rec in before.objects.items():
        base[key] = rec
        ours[key] = rec.sha256
    identities: list[Any] | None = None
    for name, entry in sorted(ours_tree.items()):
        where = f"{copy_dir(ctx.name)}/{printable(name)}"
        key = name.removesuffix(SUFFIX)
        if not name.endswith(SUFFIX) or key_problem(key) or not encrypts(ctx, key):
            raise FatalError(f"{where}: only secrets of the store are kept under "
                             f"{copy_dir(ctx.name)}/ (as <key>.age); nothing was pushed")
        same = base_tree.get(name)
        if same is not None and same.sha == entry.sha and key in before.objects:
            continue
        if identities is None:
            from kops_gitsync.backup import age

            identities = age.load_identities()
        plain = _decrypt(repo.read_blob(entry.sha), identities, where)
        ours[key] = hashlib.sha256(plain).hexdigest()
        blobs[key] = entry.sha


def _decrypt(data: bytes, identities: list[Any], where: str) -> bytes:
    from kops_gitsync.backup import age

    return age.decrypt(data, identities, where)


def store_bytes(ctx: SyncContext, key: str, data: bytes, sha256: str | None) -> bytes:
    """What push writes for a journal entry: the blob as is, or, for an encrypted copy,
    its plaintext, checked against the digest the plan was made with."""
    if not encrypts(ctx, key):
        return data
    from kops_gitsync.backup import age

    where = copy_path(ctx.name, key)
    plain = age.decrypt(data, age.load_identities(), where)
    if sha256 is not None and hashlib.sha256(plain).hexdigest() != sha256:
        raise FatalError(f"{where} changed since the push was planned; nothing was written")
    return plain


def record_encrypted(
    ctx: SyncContext, tip: str | None, applied: list[Applied]
) -> tuple[list[Applied], dict[str, str | None], list[str]]:
    """Split what push applied: secrets go to the index and their copy (the pushed
    ciphertext), never into the mirror or the sync state. Returns the rest of ``applied``,
    the tree changes, and the names (with fingerprints) for the commit message."""
    if ctx.config.secrets != "encrypt":
        return applied, {}, []
    rest = [a for a in applied if not encrypts(ctx, a.key)]
    mine = [a for a in applied if encrypts(ctx, a.key)]
    if not mine:
        return rest, {}, []
    index = read_index(ctx, tip)
    changes: dict[str, str | None] = {}
    names = []
    for item in mine:
        if item.version is None or item.sha256 is None:  # push never deletes secrets
            continue
        index.objects[item.key] = Recorded(item.version, item.size, item.sha256)
        changes[copy_path(ctx.name, item.key)] = item.blob
        names.append(f"{item.key} ({fingerprint(item.sha256)})")
    changes[index_path(ctx.name)] = ctx.repo.write_blob(index.to_bytes())
    return rest, changes, names


def copies_at(ctx: SyncContext, commit: str) -> Mapping[str, str]:
    """key -> git blob of its encrypted copy at ``commit``."""
    tree = ctx.repo.read_tree(commit, copy_dir(ctx.name))
    return {n.removesuffix(SUFFIX): e.sha for n, e in tree.items() if n.endswith(SUFFIX)}
