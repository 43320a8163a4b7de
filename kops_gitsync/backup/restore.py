"""Rebuild a store (or one cluster) from any commit of the review repository.

Sources, all read from the commit, never from the working tree: the mirror (plain objects),
and with ``secrets: encrypt`` the age copies (decrypted with ``KOPS_GITSYNC_AGE_IDENTITY``
and checked against the SHA-256 the index records). Everything is decrypted and checked
*before* the first write, so a damaged copy or a wrong identity writes nothing.

Writes are conditional like push's: a create only if absent (``if_none_match``); an object
that exists with other content is a conflict unless ``--force KEY`` names it, and is then
replaced only at the version seen (``if_match``). Objects already holding the same bytes
are left alone, which makes a restore that was interrupted safe to run again. The target's
store lock is held throughout (sync/lock.py). At the end every restored object is listed and
read back from the target and compared (backup/verify.py).

What git cannot give back is named, never silently skipped: secrets when the store kept
them out of git (inferred from the public keysets under ``pki/issued/``), copies without an
identity, objects pull withheld (they looked like secrets, or were too large).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from kops_gitsync.backup.crypt import copies_at, copy_path, read_index
from kops_gitsync.backup.verify import summarize, verify_copy
from kops_gitsync.errors import FatalError, ObjectExists, PreconditionFailed
from kops_gitsync.fingerprint import fingerprint
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.policy import Kind, classify, cluster_of, encryptable
from kops_gitsync.sync.pull import load_state
from kops_gitsync.vfs.keys import key_problem, printable

MAX_LISTED = 50
WRITE_WORKERS = 16


@dataclass
class RestorePlan:
    commit: str
    target: str
    content: dict[str, bytes] = field(default_factory=dict)  # key -> bytes to restore
    create: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)  # differ in the target, forced
    same: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # differ in the target, not forced
    versions: dict[str, str] = field(default_factory=dict)  # target versions seen
    missing: dict[str, str] = field(default_factory=dict)  # key -> why git cannot restore it
    written: list[str] = field(default_factory=list)
    no_identity: str = ""  # why the encrypted copies could not be decrypted

    def describe(self, secret: Iterable[str] = ()) -> str:
        hidden = set(secret)

        def shown(key: str) -> str:
            if key not in hidden:
                return printable(key)
            digest = hashlib.sha256(self.content[key]).hexdigest()
            return f"{printable(key)} ({fingerprint(digest)})"

        lines = [f"restore {self.commit[:12]} into {self.target}:"]
        for mark, word, keys in (("+", "create", self.create), ("~", "replace", self.replace)):
            lines += [f"  {mark} {word:7} {shown(k)}" for k in keys[:MAX_LISTED]]
            if len(keys) > MAX_LISTED:
                lines.append(f"  ... and {len(keys) - MAX_LISTED} more to {word}")
        if self.same:
            lines.append(f"  already there with the same content: {len(self.same)}")
        lines += [f"  ! differs in the target (name it with --force to replace): {printable(k)}"
                  for k in self.conflicts]
        if self.missing:
            lines.append(f"  cannot be restored from git ({len(self.missing)}):")
            lines += [f"    {printable(k)}: {why}" for k, why in sorted(self.missing.items())]
        if self.no_identity:
            lines.append(f"  {self.no_identity}")
        if not (self.create or self.replace):
            lines.append("  nothing to write")
        return "\n".join(lines)


def _plain_sources(ctx: SyncContext, commit: str, cluster: str | None) -> dict[str, str]:
    """key -> git blob of every mirrored object at ``commit`` (in ``cluster``)."""
    tree = ctx.repo.read_tree(commit, ctx.mirror_path)
    out: dict[str, str] = {}
    for key, entry in tree.items():
        if cluster is not None and cluster_of(key) != cluster:
            continue
        if entry.mode in ("120000", "160000") or key_problem(key):
            raise FatalError(f"{ctx.mirror_path}/{printable(key)} at {commit[:12]} is not a "
                             "plain object a store can hold; nothing was written")
        out[key] = entry.sha
    return out


def _secret_sources(
    ctx: SyncContext, commit: str, cluster: str | None, plan: RestorePlan,
) -> dict[str, bytes]:
    """Decrypted and checked secrets; what cannot be decrypted goes to ``plan.missing``."""
    index = read_index(ctx, commit)
    copies = {k: b for k, b in copies_at(ctx, commit).items()
              if cluster is None or cluster_of(k) == cluster}
    for key in index.objects:
        if key not in copies and (cluster is None or cluster_of(key) == cluster):
            plan.missing[key] = f"its encrypted copy {copy_path(ctx.name, key)} is missing"
    if not copies:
        return {}
    from kops_gitsync.backup import age

    try:
        identities = age.load_identities()
    except FatalError as exc:
        plan.no_identity = str(exc)
        for key in copies:
            plan.missing[key] = "encrypted in git, and no identity to decrypt it (below)"
        return {}
    out = {}
    for key, blob in sorted(copies.items()):
        where = copy_path(ctx.name, key)
        if not encryptable(key) or key_problem(key):
            raise FatalError(f"{where}: not a secret's key; nothing was written")
        data = age.decrypt(ctx.repo.read_blob(blob), identities, f"{where} at {commit[:12]}")
        rec = index.objects.get(key)
        if rec is not None and hashlib.sha256(data).hexdigest() != rec.sha256:
            raise FatalError(f"{where} at {commit[:12]} decrypts to content other than the "
                             f"index records ({fingerprint(rec.sha256)}); nothing was written")
        out[key] = data
    return out


def _unrecorded(ctx: SyncContext, commit: str, keys: set[str], cluster: str | None,
                plan: RestorePlan) -> None:
    """Name what the store held but git never got: withheld objects, and private keysets
    whose public half (``pki/issued/X``) is mirrored while the private one is nowhere."""
    for key in load_state(ctx, commit).withheld:
        if (cluster is None or cluster_of(key) == cluster) and key not in keys:
            plan.missing.setdefault(key, "withheld from git by pull (looked like a secret, "
                                         "or too large)")
    why = f"a secret, kept out of git (secrets: {ctx.config.secrets}); see docs/backup.md"
    wanted = []
    for key in sorted(keys):
        head, sep, rest = key.partition("/pki/issued/")
        if sep and rest.endswith("/keyset.yaml"):
            wanted.append(f"{head}/pki/private/{rest}")
        head, sep, rest = key.partition("/")
        if sep and rest == "config":
            wanted += [f"{head}/pki/private/{name}/keyset.yaml"
                       for name in _kops_keysets(plan.content.get(key, b""))]
            if not any(k.startswith(f"{head}/secrets/") for k in keys):
                plan.missing.setdefault(f"{head}/secrets/*", "kops' static tokens, if the "
                                        "cluster has any: their names are not kept in git")
    for private in wanted:
        if private not in keys:
            plan.missing.setdefault(private, why)


def _kops_keysets(config: bytes) -> list[str]:
    """The CA keysets kops creates for every cluster, named after its etcd clusters."""
    from kops_gitsync.validate.loader import load_object

    doc, _issues = load_object("config", config)
    data = doc.data if doc is not None else None
    spec = data.get("spec") if isinstance(data, dict) else None
    etcd = spec.get("etcdClusters") if isinstance(spec, dict) else None
    names = [e["name"] for e in etcd or [] if isinstance(e, dict) and isinstance(
        e.get("name"), str) and not key_problem(e["name"]) and "/" not in e["name"]]
    fixed = ["kubernetes-ca", "service-account", "apiserver-aggregator-ca", "etcd-clients-ca"]
    return fixed + [f"etcd-{kind}-ca-{n}" for n in names for kind in ("manager", "peers")]


def plan_restore(ctx: SyncContext, rev: str, cluster: str | None,
                 force: Iterable[str] = ()) -> RestorePlan:
    """What a restore of ``rev`` into ``ctx.store`` would write; reads, never writes."""
    commit = ctx.repo.resolve(rev)
    if commit is None:
        raise FatalError(f"{rev!r} is not a commit of {ctx.repo.root}")
    plan = RestorePlan(commit, ctx.store.url)
    plain = _plain_sources(ctx, commit, cluster)
    if cluster is not None and not plain:
        names = sorted({cluster_of(k) for k in _plain_sources(ctx, commit, None)} - {""})
        raise FatalError(f"no cluster {cluster!r} in {ctx.mirror_path}/ at {commit[:12]} "
                         f"(clusters there: {', '.join(names) or 'none'})")
    if not plain:
        raise FatalError(f"{ctx.mirror_path}/ is empty at {commit[:12]}: nothing to restore "
                         f"for store {ctx.name!r}")
    plan.content = {k: ctx.repo.read_blob(b) for k, b in plain.items()}
    plan.content.update(_secret_sources(ctx, commit, cluster, plan))
    _unrecorded(ctx, commit, set(plan.content), cluster, plan)
    live = {o.key: o.version for o in ctx.store.list(f"{cluster}/" if cluster else "")}
    forced = set(force)
    for key, data in sorted(plan.content.items()):
        if key not in live:
            plan.create.append(key)
            continue
        blob = _read(ctx, key)
        if blob is None:
            plan.create.append(key)
        elif hashlib.sha256(blob[0]).hexdigest() == hashlib.sha256(data).hexdigest():
            plan.same.append(key)
        else:
            plan.versions[key] = blob[1]
            (plan.replace if key in forced else plan.conflicts).append(key)
    unknown = forced - set(plan.replace)
    if unknown:
        raise FatalError(f"--force {', '.join(sorted(unknown))}: not an object this restore "
                         "would find with other content in the target")
    return plan


def _read(ctx: SyncContext, key: str) -> tuple[bytes, str] | None:
    try:
        blob = ctx.store.read(key)
    except FileNotFoundError:
        return None
    return blob.data, blob.version


def restore(ctx: SyncContext, rev: str, *, cluster: str | None = None,
            force: Iterable[str] = (), apply: bool = False, partial: bool = False
            ) -> tuple[RestorePlan, str]:
    """Plan, and with ``apply`` write and verify; returns the plan and a report."""
    if not apply:
        plan = plan_restore(ctx, rev, cluster, force)
        secret = [k for k in plan.content if encryptable(k)]
        return plan, plan.describe(secret) + "\n(dry run: nothing was written; run again " \
            "with --yes to restore)"
    lock = StoreLock(ctx.store, f"restore {rev}")
    lock.acquire()
    try:
        fenced = replace(ctx, store=lock.fenced(ctx.store))
        plan = plan_restore(fenced, rev, cluster, force)
        secret = [k for k in plan.content if encryptable(k)]
        report = plan.describe(secret)
        if plan.conflicts:
            raise FatalError(f"{report}\nrestore refused before writing anything: "
                             f"{len(plan.conflicts)} objects exist in the target with other "
                             "content; replace them with --force KEY (each one), or restore "
                             "into an empty store")
        if plan.missing and not partial:
            raise FatalError(f"{report}\nrestore refused before writing anything: "
                             f"{len(plan.missing)} objects cannot be restored from git (listed "
                             "above); pass --partial to restore the rest")
        _write(ctx, plan, lock)
        problems = list(verify_copy(
            plan.content, ctx.store, [f"{cluster}/" if cluster else ""],
            ignore=lambda k: classify(k) is Kind.TOOL).values())
    finally:
        lock.release()
    if problems:
        raise FatalError(f"restored {len(plan.written)} objects, but reading them back "
                         f"found: {summarize(problems)}")
    return plan, (f"{report}\nrestored: {len(plan.written)} written, {len(plan.same)} "
                  f"already there; all {len(plan.content)} read back and compared")


def _write(ctx: SyncContext, plan: RestorePlan, lock: StoreLock) -> None:
    """Conditional writes, ``WRITE_WORKERS`` in flight (a store is thousands of small
    objects; one at a time, a restore took 6x as long as ``aws s3 sync``).

    The lock is checked before every ``WRITE_WORKERS``-th write rather than before each
    (the fenced store serialises its check, which made the writes sequential again): after
    the lock is lost at most that many more start, the same as the writes in flight that a
    per-write check cannot stop either. The first refused write stops the rest."""
    meta = {"kops-gitsync-commit": plan.commit, "kops-gitsync-branch": "restore"}
    refused: list[str] = []
    stop = threading.Event()
    counter = itertools.count()

    def one(key: str) -> None:
        if stop.is_set():
            return
        if next(counter) % WRITE_WORKERS == 0:
            lock.ensure_held()
        data = plan.content[key]
        try:
            if key in plan.versions:
                ctx.store.write(key, data, if_match=plan.versions[key], metadata=meta)
            else:
                ctx.store.write(key, data, if_none_match=True, metadata=meta)
        except (ObjectExists, PreconditionFailed, FileNotFoundError):
            refused.append(key)
            stop.set()
            return
        plan.written.append(key)

    keys = plan.create + plan.replace
    pool = ThreadPoolExecutor(max_workers=WRITE_WORKERS)
    try:
        for future in [pool.submit(one, key) for key in keys]:
            future.result()  # LockLost, a store error: raised here, the rest cancelled
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    if refused:
        raise FatalError(f"{printable(refused[0])} changed in {plan.target} during the restore "
                         f"(another writer); {len(plan.written)} objects were written. Run the "
                         "restore again to see the plan")
