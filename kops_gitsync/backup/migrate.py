"""``kops-gitsync migrate``: copy clusters from one state store to another, any two schemes.

The kops docs' "Moving state between S3 buckets" is `aws s3 sync` plus a hand edit of
``configBase``; this does the same for every scheme, safely:

* objects are read from the source and written to the target directly (secrets included:
  they never pass through git or a local file);
* each cluster's ``config`` (and legacy ``cluster.spec``) gets ``spec.configBase`` rewritten
  to the new location as a one-line edit (backup/configbase.py), and every other field that
  still names the old store is reported, not rewritten;
* every write is a create-if-absent, under the target's store lock (as push takes it); a
  target object that already holds other bytes is refused by name, unless an earlier run of
  migrate wrote it (the manifest ``.kops-gitsync.migrate.json`` at the target root records
  what migrate wrote, by SHA-256), which is what makes an interrupted or outdated run
  resumable: run it again;
* both sides are listed and hashed at the end (backup/verify.py, as restore does);
* the source is never written, locked or deleted.

Without ``yes`` it is a plan: what would be created, what is already there, what conflicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kops_gitsync.backup.configbase import (
    expected_config_base,
    mismatch,
    references,
    rewrite_config_base,
    trim,
)
from kops_gitsync.backup.verify import hash_objects, source_changes, verify_copy
from kops_gitsync.errors import FatalError, ObjectExists, PreconditionFailed
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.vfs.base import Blob, Store
from kops_gitsync.vfs.keys import printable

MANIFEST_KEY = ".kops-gitsync.migrate.json"  # a TOOL key: pull and push never see it
WORKERS = 16
SPEC_FILES = ("config", "cluster.spec")  # what kops reads configBase from


@dataclass
class Copy:
    key: str
    data: bytes  # what the target must hold
    source_sha256: str
    source_version: str  # the token the source was read at
    action: str = "create"  # create | same | replace | conflict
    target_version: str | None = None


@dataclass
class MigrationPlan:
    source_url: str
    target_url: str
    clusters: list[str]
    prefixes: list[str]  # "" (whole store) or "<cluster>/" each
    copies: list[Copy] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)  # key -> sha256 migrate wrote
    manifest_version: str | None = None

    def keys(self, action: str) -> list[str]:
        return [c.key for c in self.copies if c.action == action]

    def render(self) -> str:
        secrets = sum(1 for c in self.copies if classify(c.key) in (Kind.SECRET, Kind.BACKUP))
        lines = [
            f"migrate {self.source_url} -> {self.target_url}: {len(self.clusters)} cluster(s), "
            f"{len(self.copies)} object(s) ({secrets} secret or backup)",
            f"  create {len(self.keys('create'))}, already there {len(self.keys('same'))}, "
            f"replace an earlier migrate copy {len(self.keys('replace'))}, "
            f"conflicts {len(self.keys('conflict'))}",
        ]
        lines += [f"  configBase: {r}" for r in self.rewrites]
        lines += [f"  ! warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _read_all(store: Store, keys: list[str]) -> dict[str, Blob | None]:
    def one(key: str) -> tuple[str, Blob | None]:
        try:
            return key, store.read(key)
        except FileNotFoundError:
            return key, None

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(one, keys))


def _select(source: Store, clusters: list[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(clusters, prefixes, keys) to migrate; the store's TOOL objects never move."""
    listed = sorted(o.key for o in source.list() if classify(o.key) is not Kind.TOOL)
    if not listed:
        raise FatalError(f"{source.url} lists no objects: nothing to migrate (wrong URL?)")
    present = sorted({k.split("/", 1)[0] for k in listed if k.count("/") == 1
                      and k.endswith("/config")})
    if clusters is None:
        return present, [""], listed
    missing = [c for c in clusters if c not in present]
    if missing:
        raise FatalError(f"{source.url} holds no cluster {', '.join(missing)} (no <name>/config);"
                         f" it holds: {', '.join(present) or 'none'}")
    prefixes = [f"{c}/" for c in dict.fromkeys(clusters)]
    return list(dict.fromkeys(clusters)), prefixes, [
        k for k in listed if any(k.startswith(p) for p in prefixes)]


def _read_manifest(target: Store) -> tuple[dict[str, str], str | None]:
    try:
        blob = target.read(MANIFEST_KEY)
    except FileNotFoundError:
        return {}, None
    try:
        doc = json.loads(blob.data)
        written = doc["written"]
        if not isinstance(written, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in written.items()):
            raise ValueError("'written' is not a map of key to SHA-256")
    except (ValueError, KeyError, TypeError) as exc:
        raise FatalError(f"{target.url}/{MANIFEST_KEY} is damaged ({exc}); remove it only if "
                         "no migrate wrote into this store") from None
    return written, blob.version


def _rewrite(plan: MigrationPlan, key: str, data: bytes, source_url: str) -> bytes:
    """configBase of one spec file pointed at the target, and what else names the source."""
    cluster, _, name = key.partition("/")
    if name not in SPEC_FILES:
        return data
    where = f"{source_url}/{key}"
    problem = mismatch(source_url, cluster, data, where)
    if problem:
        plan.warnings.append(problem)
    new = expected_config_base(plan.target_url, cluster)
    edited, old = rewrite_config_base(data, new, where)
    bases = [source_url] + ([old.rsplit("/", 1)[0]] if old and "/" in old else [])
    for ref in references(data, bases, where):
        plan.warnings.append(
            f"{cluster}/{name}: {ref.path} = {ref.value} still names the old store; kops keeps "
            "using it after the move: edit it (and copy what it holds) if that should move too")
    if old is None:
        plan.rewrites.append(f"{key}: no spec.configBase (kops derives it from the store)")
    elif edited != data:
        plan.rewrites.append(f"{key}: {old} -> {new}")
    return edited


def plan_migration(
    source: Store, target: Store, clusters: list[str] | None = None, *,
    target_exists: bool = True,
) -> MigrationPlan:
    """Read the source, compare with the target; writes nothing. ``target_exists`` False: a
    local folder still to be made, so everything is a create."""
    source_url, target_url = trim(source.url), trim(target.url)
    if source_url == target_url:
        raise FatalError(f"--from and --to are the same store ({source_url})")
    names, prefixes, keys = _select(source, clusters)
    plan = MigrationPlan(source_url, target_url, names, prefixes)
    read = _read_all(source, keys)
    vanished = [k for k, v in read.items() if v is None]
    if vanished:
        raise FatalError(f"{', '.join(printable(k) for k in vanished[:5])} vanished from "
                         f"{source_url} while it was read (is kops writing?); nothing was "
                         "written, run migrate again")
    for key in keys:
        blob = read[key]
        assert blob is not None
        plan.copies.append(Copy(key, _rewrite(plan, key, blob.data, source_url),
                                hashlib.sha256(blob.data).hexdigest(), blob.version))
    if not target_exists:
        return plan
    plan.manifest, plan.manifest_version = _read_manifest(target)
    there = {o.key: o.version for p in prefixes for o in target.list(p)}
    present = [c for c in plan.copies if c.key in there]
    held = hash_objects(target, [c.key for c in present])
    for copy in present:
        now = held[copy.key]
        if now is None:
            continue  # deleted since the listing: still a create
        copy.target_version = there[copy.key]
        if now == hashlib.sha256(copy.data).hexdigest():
            copy.action = "same"
        elif plan.manifest.get(copy.key) == now:
            copy.action = "replace"  # written by an earlier migrate, source changed since
        else:
            copy.action = "conflict"
    extra = sorted(set(there) - {c.key for c in plan.copies} - {MANIFEST_KEY}
                   - {k for k in there if classify(k) is Kind.TOOL})
    if extra:
        plan.warnings.append(f"{target_url} holds {len(extra)} object(s) the source does not "
                             f"({', '.join(printable(k) for k in extra[:5])}); left as they are")
    return plan


def refuse_conflicts(plan: MigrationPlan) -> None:
    conflicts = plan.keys("conflict")
    if conflicts:
        shown = ", ".join(printable(k) for k in conflicts[:10])
        more = f" (and {len(conflicts) - 10} more)" if len(conflicts) > 10 else ""
        raise FatalError(
            f"{plan.target_url} already holds different bytes at {len(conflicts)} key(s) "
            f"migrate did not write: {shown}{more}. Nothing was written; migrate never "
            "overwrites them: remove them from the target (or pick an empty target) first")


def apply_migration(
    plan: MigrationPlan, target: Store, on_write: Callable[[str], None] | None = None,
) -> list[str]:
    """Write what the plan says (``target`` is the locked, fenced store); the keys written.

    Whatever happens, the manifest is updated with every write that landed, so a run that
    fails part-way is continued by running migrate again.
    """
    refuse_conflicts(plan)
    todo = [c for c in plan.copies if c.action in ("create", "replace")]
    written: list[str] = []
    raced: list[str] = []

    def one(copy: Copy) -> None:
        try:
            if copy.action == "create":
                target.write(copy.key, copy.data, if_none_match=True)
            else:
                target.write(copy.key, copy.data, if_match=copy.target_version)
        except (ObjectExists, PreconditionFailed, FileNotFoundError):
            raced.append(copy.key)  # someone else wrote it meanwhile: checked below
            return
        written.append(copy.key)
        plan.manifest[copy.key] = hashlib.sha256(copy.data).hexdigest()
        if on_write is not None:
            on_write(copy.key)

    pool = ThreadPoolExecutor(max_workers=WORKERS)
    try:
        for future in [pool.submit(one, c) for c in todo]:
            future.result()
    except BaseException:
        # Ctrl-C or a failed write: start nothing more, and record what landed (best
        # effort: the store may be what failed; the error that did is the one shown).
        pool.shutdown(wait=False, cancel_futures=True)
        if written:
            with contextlib.suppress(Exception):
                _write_manifest(plan, target)
        raise
    pool.shutdown()
    if written:
        _write_manifest(plan, target)
    if raced:
        by_key = {c.key: c for c in plan.copies}
        now = hash_objects(target, raced)
        lost = [k for k in raced if now[k] != hashlib.sha256(by_key[k].data).hexdigest()]
        if lost:
            raise FatalError(f"another writer changed {', '.join(printable(k) for k in lost)} "
                             f"in {plan.target_url} during the migration; they were left as "
                             "that writer wrote them. Check them, then run migrate again")
    return written


def _write_manifest(plan: MigrationPlan, target: Store) -> None:
    doc = {"format": 1, "source": plan.source_url,
           "written": dict(sorted(plan.manifest.items()))}
    data = (json.dumps(doc, indent=1) + "\n").encode()
    if plan.manifest_version is None:
        try:
            plan.manifest_version = target.write(MANIFEST_KEY, data, if_none_match=True)
            return
        except ObjectExists:
            pass
    plan.manifest_version = target.write(MANIFEST_KEY, data)


def verify(plan: MigrationPlan, source: Store, target: Store) -> str:
    """One line when source and target agree; FatalError naming what differs."""
    versions = {c.key: c.source_version for c in plan.copies}
    changed_keys = source_changes(source, versions, plan.prefixes)
    wrong = sorted(verify_copy({c.key: hashlib.sha256(c.data).hexdigest() for c in plan.copies},
                               target, plan.prefixes))
    if wrong:
        raise FatalError(
            f"verification failed: {plan.target_url} does not hold what was copied at "
            f"{', '.join(printable(k) for k in wrong[:10])}; run migrate again")
    if changed_keys:
        changed = ", ".join(printable(k) for k in changed_keys[:10])
        raise FatalError(
            f"the source changed during the migration ({changed}): the target holds the "
            "versions read before. "
            "Run migrate again (when kops is not writing) to bring the new versions over")
    rewritten = sum(1 for c in plan.copies if hashlib.sha256(c.data).hexdigest()
                    != c.source_sha256)
    return (f"verified {len(versions)} object(s) on both sides: the source is unchanged "
            "(listing) and the target holds the same bytes (SHA-256; "
            f"{rewritten} with configBase rewritten)")


def next_steps(plan: MigrationPlan) -> list[str]:
    lines = ["the source was not changed or deleted. Remaining steps:",
             f"  export KOPS_STATE_STORE={plan.target_url}"]
    lines += [f"  kops update cluster --name {c} --state {plan.target_url} --yes"
              for c in plan.clusters]
    lines.append("  (and point `state:` in .kops-gitsync.yaml at the new store; "
                 "see docs/migrate.md)")
    return lines
