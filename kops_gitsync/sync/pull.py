"""pull: mirror a store into git, reading only what changed.

1. list the store (the one unavoidable cost), classify every key (sync/policy.py);
2. compare listing versions with the sync state of the observed ref: only new or changed
   versions are read, concurrently; a no-op pull reads no body and makes no commit;
3. write blobs as they arrive (one ``git fast-import`` stream for many, so memory stays flat
   in the store size: a body is dropped once written) and a new observed commit with
   plumbing (the working tree is not touched);
4. merge the observed ref into the current branch like ``git pull`` would.

All-or-nothing: any failure before step 3's ``update-ref`` leaves the repository exactly as
it was (stray blobs are unreachable and collected by git gc). A no-op pull writes nothing
at all: no blob, no commit, and the sync state is not even serialised again.
"""

from __future__ import annotations

import hashlib
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from kops_gitsync.backup.crypt import encrypted_copies
from kops_gitsync.errors import FatalError, ObjectTooLarge
from kops_gitsync.secretscan import scan
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.messages import change_message
from kops_gitsync.sync.observed import merge_observed, observed_tip, store_lost
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.syncstate import Recorded, SyncState
from kops_gitsync.vfs.base import Blob, ObjectInfo, Store
from kops_gitsync.vfs.keys import file_dir_collisions, key_problem, printable

READ_WORKERS = 16
_T = TypeVar("_T")


@dataclass
class PullResult:
    store: str
    observed_commit: str | None = None
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    withheld_by_content: list[str] = field(default_factory=list)
    withheld_too_large: list[str] = field(default_factory=list)
    objects_listed: int = 0
    objects_read: int = 0
    merged: bool = False
    summary: str = ""


def load_state(ctx: SyncContext, commit: str | None) -> SyncState:
    data = ctx.repo.read_file(commit, ctx.state_file)
    if data is None:
        return SyncState(url=ctx.url)
    return SyncState.parse_cached(data, f"{commit}:{ctx.state_file}")


@dataclass(frozen=True)
class Fetched:
    blob: Blob
    sha256: str
    secret_rule: str | None  # the scanner rule that matched (secretscan), None: clean


Consume = Callable[[str, Fetched | None], None]


def _read_all(
    store: Store, keys: list[str], progress: bool, scan_content: Callable[[str], bool],
    max_bytes: int, consume: Consume,
) -> None:
    """Read ``keys`` concurrently and hand each to ``consume`` in order (None: deleted
    since the listing). At most a window of bodies is alive at once: ``consume`` writes a
    body to git and drops it, so a pull's memory does not grow with the store.

    Hashing and the secret scan run in the reader threads, so on a network store they
    overlap with other reads in flight instead of waiting for the last one.
    """

    def read_one(key: str) -> tuple[str, Fetched | None]:
        try:
            blob = store.read(key, max_bytes=max_bytes)
        except FileNotFoundError:
            return key, None
        found = scan(blob.data) if scan_content(key) else []
        rule = f"{found[0].name}, line {found[0].line}" if found else None
        return key, Fetched(blob, hashlib.sha256(blob.data).hexdigest(), rule)

    if not keys:
        return
    from tqdm import tqdm

    show = progress and sys.stderr.isatty() and len(keys) > 20
    pool = ThreadPoolExecutor(max_workers=READ_WORKERS)
    try:
        with tqdm(total=len(keys), disable=not show, unit="obj", desc="reading") as bar:
            for key, blob in _windowed_map(pool, read_one, keys, 4 * READ_WORKERS):
                consume(key, blob)
                del blob
                bar.update()
    except BaseException:
        # Ctrl-C or a failed read: do not wait for reads still hanging on the network.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _windowed_map(
    pool: ThreadPoolExecutor, fn: Callable[[str], _T], items: list[str], window: int
) -> Iterator[_T]:
    """``pool.map`` with at most ``window`` calls in flight. ``Executor.map`` submits every
    item at once: one Future per listed object, most of a pull's 280 MB at 100,000 keys."""
    pending: deque[Future[_T]] = deque()
    for item in items:
        if len(pending) >= window:
            yield pending.popleft().result()
        pending.append(pool.submit(fn, item))
    while pending:
        yield pending.popleft().result()


def _withhold_large(
    state: SyncState, previous: SyncState, result: PullResult, key: str, version: str,
    found: str,
) -> None:
    """Keep an oversized object out of git (and unread), like a secret: named, not mirrored."""
    state.withheld[key] = version
    if key in previous.objects:
        state.objects[key] = previous.objects[key]  # git keeps the last version it could hold
    result.withheld_too_large.append(key)
    print(f"kops-gitsync pull: {printable(key)} is too large to mirror ({found}); withheld "
          "(raise max_object_size in .kops-gitsync.yaml if it belongs in git)", file=sys.stderr)


def _read_all_capped(
    ctx: SyncContext, keys: list[str], progress: bool, scan_content: Callable[[str], bool],
    state: SyncState, previous: SyncState, result: PullResult, consume: Consume,
) -> None:
    """Read ``keys``; one the listing undersold and the read found over the cap is withheld."""
    limit = ctx.config.max_object_size
    done: set[str] = set()

    def tracked(key: str, got: Fetched | None) -> None:
        consume(key, got)
        done.add(key)

    try:
        _read_all(ctx.store, keys, progress, scan_content, limit, tracked)
    except ObjectTooLarge as exc:
        if exc.key is None or exc.key not in keys:
            raise
        version = next((o.version for o in ctx.store.list(exc.key) if o.key == exc.key), "")
        _withhold_large(state, previous, result, exc.key, version, f"over {limit} bytes")
        rest = [k for k in keys if k != exc.key and k not in done]
        _read_all_capped(ctx, rest, progress, scan_content, state, previous, result, consume)


def _check_keys(keys: Iterable[str]) -> None:
    problems = [(k, p) for k in keys if (p := key_problem(k)) is not None]
    if problems:
        shown = "; ".join(f"{printable(k)!r}: {p}" for k, p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise FatalError(
            f"the store holds object keys that cannot be mirrored safely: {shown}{more}. "
            "Nothing was written. Exclude them with `exclude:` in .kops-gitsync.yaml."
        )
    collisions = file_dir_collisions(keys)
    if collisions:
        shown = "; ".join(f"{a!r} and {b!r}" for a, b in collisions[:10])
        raise FatalError(
            f"the store holds an object and a folder of the same name ({shown}); "
            "a working tree cannot hold both. Nothing was written."
        )


def _check_recorded(ctx: SyncContext, commit: str, state: SyncState) -> None:
    """The commit must hold every object the sync state says is mirrored.

    git silently drops paths it will not track (a mirror folder that git treats as its own,
    names it refuses), and a sync state claiming objects the tree lacks would make push
    delete them. Checked before the observed ref moves, so nothing is recorded.
    """
    held = ctx.repo.read_tree(commit, ctx.mirror_path)
    missing = [k for k in state.objects if k not in held]
    if missing:
        shown = ", ".join(printable(k) for k in missing[:5])
        raise FatalError(
            f"git did not keep {len(missing)} of the {len(state.objects)} mirrored objects "
            f"under {ctx.mirror_path}/ ({shown}); nothing was recorded. Check the store's "
            "`path:` in .kops-gitsync.yaml"
        )


def _confirm_vanished(ctx: SyncContext, vanished: list[str]) -> None:
    """Objects listed but gone when read: deleted, or is the whole store going away?

    A fresh listing tells the two apart; a store that vanished raises there (or lists
    nothing), and the pull stops before recording a mass deletion that never happened.
    """
    if not vanished:
        return
    relisted = {o.key for o in ctx.store.list()}
    if not relisted:
        raise FatalError(
            f"{ctx.url} emptied while it was being read; nothing was recorded. Run pull again "
            "once the store is back."
        )
    back = sorted(set(vanished) & relisted)
    if back:
        raise FatalError(
            f"{', '.join(back[:5])} changed while being read; nothing was recorded, run pull again"
        )


def pull(
    ctx: SyncContext, *, merge: bool = True, progress: bool = False, allow_empty: bool = False
) -> PullResult:
    from kops_gitsync.sync.journal import finish_interrupted_push

    finish_interrupted_push(ctx)
    repo, policy = ctx.repo, ctx.policy
    result = PullResult(store=ctx.name)
    tip = observed_tip(ctx)
    # A state adopted from a branch (a teammate's pull, or a crafted commit) says which
    # content each version holds, but this clone never read it: read everything once.
    verified = not ctx.adopted_path.exists()
    previous = load_state(ctx, tip)
    if tip is not None and previous.url != ctx.url:
        raise FatalError(
            f"store {ctx.name!r} was mirrored from {previous.url}, not {ctx.url}; "
            "give the other store its own name in .kops-gitsync.yaml"
        )

    listing: list[ObjectInfo] = list(ctx.store.list())
    result.objects_listed = len(listing)
    lost = store_lost(previous.objects, {o.key: o.version for o in listing})
    if lost and not allow_empty:
        raise FatalError(
            f"{ctx.url}: {lost}. Only if the store is meant to have lost them, "
            "`pull --allow-empty` records the deletions"
        )
    if not listing and not allow_empty:
        held = f"; the last pull saw {len(previous.objects)} objects" if previous.objects else ""
        raise FatalError(
            f"{ctx.url} lists no objects{held}. Refusing to mirror an empty store "
            "(wrong bucket or prefix?); pass --allow-empty if it really is empty."
        )
    mirrored = {o.key: o for o in listing if policy.mirrored(o.key)}
    _check_keys(mirrored)

    state = SyncState(url=ctx.url)
    to_read = []
    limit = ctx.config.max_object_size
    for key, info in mirrored.items():
        recorded = previous.objects.get(key)
        if recorded is not None and recorded.version == info.version and verified:
            state.objects[key] = recorded
        elif previous.withheld.get(key) == info.version and verified:
            state.withheld[key] = info.version
            if key in previous.objects:  # the last clean version stays mirrored
                state.objects[key] = previous.objects[key]
        elif info.size > limit:
            _withhold_large(state, previous, result, key, info.version, f"{info.size} bytes")
        else:
            to_read.append(key)

    def scan_content(key: str) -> bool:
        secret_ok = ctx.config.secrets == "include" and classify(key) in (Kind.SECRET, Kind.BACKUP)
        return not secret_ok

    changes: dict[str, str | None] = {}
    vanished: list[str] = []
    prefix = ctx.mirror_path + "/"

    def consume(key: str, got: Fetched | None) -> None:
        if got is None:
            vanished.append(key)  # gone since the listing: handled as a deletion below
            return
        blob, digest = got.blob, got.sha256
        if got.secret_rule is not None:
            state.withheld[key] = blob.version
            result.withheld_by_content.append(f"{key} ({got.secret_rule})")
            if key in previous.objects:
                # Keep the last clean version rather than record a deletion that never
                # happened (and leave the InstanceGroups without their Cluster).
                state.objects[key] = previous.objects[key]
            return
        state.objects[key] = Recorded(blob.version, len(blob.data), digest)
        before = previous.objects.get(key)
        if before is not None and before.sha256 == digest:
            return  # a new version with the same bytes (GCS rewrite, touch): no content change
        changes[prefix + key] = writer.add(blob.data)
        (result.modified if before is not None else result.added).append(key)

    with repo.blob_writer() as writer:
        _read_all_capped(ctx, sorted(to_read), progress, scan_content, state, previous, result,
                         consume)
    result.objects_read = len(to_read)
    _confirm_vanished(ctx, vanished)
    for found in (result.added, result.modified, result.withheld_by_content):
        found.sort()
    for key in sorted(previous.objects):
        if key not in state.objects:
            changes[prefix + key] = None
            result.deleted.append(key)

    # --- secrets: encrypt -- age copies of the secrets beside the mirror (backup/crypt.py)
    sealed = encrypted_copies(ctx, listing, tip)
    changes.update(sealed.changes)

    if tip is None or changes or state != previous:
        state_bytes = state.to_bytes()
        withheld = policy.withheld_counts(o.key for o in listing)
        note = ""
        if result.withheld_too_large:
            withheld["too large"] = len(result.withheld_too_large)
        if result.withheld_by_content:
            withheld["secret by content"] = len(result.withheld_by_content)
            note = "Withheld because the content looks like a secret (git keeps the last " \
                "clean version, if any): " + ", ".join(
                    printable(k) for k in result.withheld_by_content)
        message = change_message(
            operation="pull",
            store=ctx.name,
            url=ctx.url,
            added=result.added,
            modified=result.modified,
            deleted=result.deleted,
            withheld=withheld,
            note=" ".join(n for n in (note, sealed.note) if n),
        )
        changes[ctx.state_file] = repo.write_blob(state_bytes)
        tree = repo.build_tree(tip, changes)
        commit = repo.commit_tree(tree, [tip] if tip else [], message)
        _check_recorded(ctx, commit, state)
        repo.update_ref(ctx.observed_ref, commit, tip, f"kops-gitsync pull {ctx.name}")
        result.observed_commit = tip = commit

    ctx.adopted_path.unlink(missing_ok=True)  # what the tip records is what the store holds
    if merge and tip is not None:
        result.merged = merge_observed(ctx, tip)
    result.summary = _summary(ctx, result)
    return result


def _summary(ctx: SyncContext, result: PullResult) -> str:
    if result.observed_commit is None:
        head = "up to date"
    else:
        head = (
            f"{len(result.added)} added, {len(result.modified)} modified, "
            f"{len(result.deleted)} deleted"
        )
    parts = [f"{ctx.name} ({ctx.url}): {head}",
             f"listed {result.objects_listed}, read {result.objects_read}"]
    if result.withheld_by_content:
        shown = ", ".join(printable(k) for k in result.withheld_by_content[:10])
        more = len(result.withheld_by_content) - 10
        parts.append(f"withheld {len(result.withheld_by_content)} that look like secrets: {shown}"
                     + (f" (and {more} more)" if more > 0 else ""))
    if result.merged:
        parts.append(f"merged into {ctx.repo.current_branch() or 'HEAD'}")
    return "; ".join(parts)
