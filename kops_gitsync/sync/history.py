"""``pull --history``: give a newly adopted store its past, from the versions its bucket kept.

S3 (versioning on) and GCS (object versioning on) keep every version of every object with
the time it was written. This module replays them as observed commits, one per point in
time (every version or deletion the store stamped within the same second lands in one commit),
dated with the store's own timestamp, so ``git log state/<cluster>/config`` shows who-knows-
who changed the cluster when, long before kops-gitsync was adopted.

Where the history goes (docs/migrate.md): *before* the first observed commit, so it can only
be imported while the store has no observed history yet. Observed commits are merged into
branches and shared by every clone; putting commits under an existing first one would
rewrite all of them, so an already-pulled store is refused with a message saying so (and
what to do). Re-running on a store whose history was imported adds nothing (idempotent).

The same rules as a pull decide what enters git: keys the policy keeps out (secrets, etcd
backups, excluded patterns, the lock) are never read, each version is scanned by the content
scanner (a version that looks like a secret is withheld and git keeps the last clean one),
and versions over ``max_object_size`` are withheld unread. The last commit records exactly
the tokens a listing reports (ETag, generation), so the pull that follows reads nothing that
did not change since.
"""

from __future__ import annotations

import datetime
import hashlib
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from kops_gitsync.errors import FatalError, ObjectTooLarge
from kops_gitsync.secretscan import scan
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.messages import change_message
from kops_gitsync.sync.observed import observed_tip
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.syncstate import Recorded, SyncState
from kops_gitsync.vfs.base import ObjectVersion, VersionedStore, versioned
from kops_gitsync.vfs.keys import file_dir_collisions, key_problem, printable

TRAILER_HISTORY = "Kops-Gitsync-History"  # on an imported commit: the store time it records
READ_WORKERS = 16


@dataclass
class HistoryResult:
    store: str
    commits: int = 0
    versions_read: int = 0
    withheld: list[str] = field(default_factory=list)
    already: bool = False
    summary: str = ""


@dataclass(frozen=True)
class _Content:
    """One read version: its git blob, or why it stays out of git."""

    blob: str | None
    size: int
    sha256: str
    withheld: str | None  # "secret by content (rule)" / "too large", None: mirrored


def parse_since(text: str) -> float:
    """``2026-01-31`` or ``2026-01-31T12:00:00Z`` (UTC unless it says otherwise)."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FatalError(f"--since {text!r}: not a date (write 2026-01-31 or "
                         "2026-01-31T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _iso(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _imported_before(ctx: SyncContext, tip: str) -> str | None:
    """The newest imported commit in the observed history, None if it has none."""
    return ctx.repo.log_grep([tip], [f"^{TRAILER_HISTORY}: "])


def _wanted(ctx: SyncContext, key: str) -> bool:
    """What a pull would mirror; secrets only under ``secrets: include`` (never encrypted
    or otherwise: an imported history carries no secret version)."""
    kind = classify(key)
    if kind in (Kind.SECRET, Kind.BACKUP) and ctx.config.secrets != "include":
        return False
    return ctx.policy.mirrored(key)


def _check_keys(keys: Iterable[str]) -> None:
    keys = sorted(set(keys))
    bad = [f"{printable(k)!r}: {p}" for k in keys if (p := key_problem(k)) is not None]
    if bad:
        raise FatalError("the store's history holds object keys that cannot be mirrored "
                         f"safely: {'; '.join(bad[:10])}. Nothing was written; exclude them "
                         "with `exclude:` in .kops-gitsync.yaml")
    clashes = file_dir_collisions(keys)
    if clashes:
        shown = "; ".join(f"{a!r} and {b!r}" for a, b in clashes[:10])
        raise FatalError(f"the store's history holds an object and a folder of the same name "
                         f"({shown}); nothing was written")


def _timeline(events: list[ObjectVersion], since: float | None) -> list[list[ObjectVersion]]:
    """Points in time, oldest first; with ``since``, everything up to it folds into the
    first point (the store as it was then). Per key, listings give the newest first, so
    listing order breaks ties between versions stamped with the same time.

    A point is one whole second: S3 listings stamp versions to the second, GCS to the
    microsecond, and the burst of writes one ``kops update cluster`` makes should be one
    commit on either scheme."""
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].modified, -pair[0]))
    folded: list[ObjectVersion] = []
    if since is not None:
        live: dict[str, ObjectVersion] = {}
        for _, event in ordered:
            if event.modified <= since:
                live[event.key] = event
        folded = sorted((e for e in live.values() if not e.deleted), key=lambda e: e.modified)
        ordered = [pair for pair in ordered if pair[1].modified > since]
    points = [list(v for _, v in group)
              for _, group in groupby(ordered, key=lambda pair: int(pair[1].modified))]
    return ([folded] if folded else []) + points


def _read_contents(
    ctx: SyncContext, store: VersionedStore, events: list[ObjectVersion],
) -> dict[tuple[str, str], _Content]:
    """Read every mirrored version once, concurrently; scan and hash in the reader threads."""
    limit = ctx.config.max_object_size
    include_secrets = ctx.config.secrets == "include"

    def read_one(event: ObjectVersion) -> tuple[ObjectVersion, bytes | None, _Content]:
        if event.size > limit:
            return event, None, _Content(None, event.size, "", "too large")
        try:
            blob = store.read_version(event.key, event.version_id, max_bytes=limit)
        except ObjectTooLarge:
            return event, None, _Content(None, event.size, "", "too large")
        secret_ok = include_secrets and classify(event.key) in (Kind.SECRET, Kind.BACKUP)
        found = [] if secret_ok else scan(blob.data)
        why = f"secret by content ({found[0].name}, line {found[0].line})" if found else None
        digest = hashlib.sha256(blob.data).hexdigest()
        return event, None if found else blob.data, _Content(None, len(blob.data), digest, why)

    wanted = {(e.key, e.version_id): e for e in events if not e.deleted}
    contents: dict[tuple[str, str], _Content] = {}
    pool = ThreadPoolExecutor(max_workers=READ_WORKERS)
    try:
        for event, data, content in pool.map(read_one, wanted.values()):
            blob = ctx.repo.write_blob(data) if data is not None else None
            contents[(event.key, event.version_id)] = _Content(
                blob, content.size, content.sha256, content.withheld)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return contents


def import_history(ctx: SyncContext, *, since: float | None = None) -> HistoryResult:
    """Build the store's past as observed commits ending where a pull would begin.

    Raises ``FatalError`` (nothing written) when the store keeps no versions or already has
    an observed history that was not imported (see the module docstring).
    """
    result = HistoryResult(store=ctx.name)
    store = versioned(ctx.store)
    tip = observed_tip(ctx)
    if tip is not None:
        imported = _imported_before(ctx, tip)
        if imported is None:
            raise FatalError(
                f"store {ctx.name!r} already has an observed history (newest "
                f"{tip[:12]} on {ctx.observed_ref}); an imported past must come before its "
                "first commit, and those commits are already merged into your branches, so "
                "putting history under them would rewrite every branch. Import history when "
                "adopting a store (its first pull), e.g. in a fresh review repository"
            )
        result.already = True
        result.summary = (f"{ctx.name}: history already imported (up to "
                          f"{imported[:12]}); nothing added")
        return result
    events = [e for e in store.list_versions() if classify(e.key) is not Kind.TOOL]
    _check_keys(e.key for e in events if _wanted(ctx, e.key))
    points = _timeline(events, since)
    used = [e for point in points for e in point if _wanted(ctx, e.key)]
    contents = _read_contents(ctx, store, used)
    result.versions_read = len(contents)
    parent = _build_chain(ctx, points, contents, result)
    if parent is not None:
        ctx.repo.update_ref(ctx.observed_ref, parent, None, f"kops-gitsync pull --history "
                            f"{ctx.name}")
    first = _iso(max(e.modified for e in points[0])) if points else None
    span = f" from {first} to {_iso(points[-1][-1].modified)}" if first else ""
    withheld = f"; withheld {len(result.withheld)} version(s)" if result.withheld else ""
    result.summary = (f"{ctx.name} ({ctx.url}): imported {result.commits} commit(s) of "
                      f"history{span}, read {result.versions_read} version(s){withheld}")
    return result


def _build_chain(
    ctx: SyncContext, points: list[list[ObjectVersion]],
    contents: dict[tuple[str, str], _Content], result: HistoryResult,
) -> str | None:
    repo, prefix = ctx.repo, ctx.mirror_path + "/"
    state = SyncState(url=ctx.url)
    parent: str | None = None
    recorded = b""  # the sync state the parent commit holds
    live: set[str] = set()
    for point in points:
        added: list[str] = []
        modified: list[str] = []
        deleted: list[str] = []
        changes: dict[str, str | None] = {}
        withheld_now: list[str] = []
        for event in point:
            key = event.key
            if not _wanted(ctx, key):  # never read, only counted as kept out of git
                (live.discard if event.deleted else live.add)(key)
                continue
            if event.deleted:
                live.discard(key)
                state.withheld.pop(key, None)
                if state.objects.pop(key, None) is not None:
                    changes[prefix + key] = None
                    deleted.append(key)
                continue
            live.add(key)
            content = contents[(key, event.version_id)]
            if content.withheld is not None or content.blob is None:
                state.withheld[key] = event.token  # git keeps the last clean version, if any
                withheld_now.append(f"{printable(key)} at {_iso(event.modified)} "
                                    f"({content.withheld})")
                continue
            state.withheld.pop(key, None)
            before = state.objects.get(key)
            state.objects[key] = Recorded(event.token, content.size, content.sha256)
            if before is not None and before.sha256 == content.sha256:
                continue
            changes[prefix + key] = content.blob
            (modified if before is not None else added).append(key)
        result.withheld += withheld_now
        state_bytes = state.to_bytes()
        if parent is not None and not changes and state_bytes == recorded:
            continue
        recorded = state_bytes
        stamp = max(e.modified for e in point)  # a folded --since point: its last change
        moment = _iso(stamp)
        note = f"Imported from the store's kept versions: the store as it was at {moment}."
        if withheld_now:
            note += " Withheld (git keeps the last clean version): " + ", ".join(withheld_now)
        message = change_message(
            operation="pull", store=ctx.name, url=ctx.url, added=sorted(added),
            modified=sorted(modified), deleted=sorted(deleted),
            withheld=ctx.policy.withheld_counts(live), note=note,
        ).rstrip("\n") + f"\n{TRAILER_HISTORY}: {moment}\n"
        changes[ctx.state_file] = repo.write_blob(state_bytes)
        tree = repo.build_tree(parent, changes)
        date = f"@{int(stamp)} +0000"
        parent = repo.commit_tree(tree, [parent] if parent else [], message,
                                  env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        result.commits += 1
    if result.withheld:
        print(f"kops-gitsync pull --history: {ctx.name}: withheld {len(result.withheld)} "
              "version(s) from git: " + "; ".join(result.withheld[:10]), file=sys.stderr)
    return parent
