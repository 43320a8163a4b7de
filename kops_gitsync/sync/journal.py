"""The push journal: what a push meant to do, and what it has done so far.

A push writes objects one at a time or a few at once (no store offers multi-object
transactions), so a kill between writes must leave something that says how far it got.
Before the first write, push records the whole plan (with the git blob of every target) in
``<git-dir>/kops-gitsync/journal-<store>.json``; after each write it appends one line. The
next pull or push finds the journal and finishes the job: an action whose target content is
already in the store is done, one whose expected version is still there is applied (with the
same precondition), anything else is reported as a conflict by key. Then it records the
result on the observed ref, exactly as an uninterrupted push would have.

Durability, and why one fsync of the plan is enough before writing: the plan (the header)
is fsync'd, file and directory, before the first write, because without it nothing would
say that a write was ours. The completion lines are only ``write(2)``-n: a killed process
loses nothing the kernel already has, and a lost line (power loss) only makes the resume
look at that object again, where it finds the target content and counts it done, or finds
someone else's content and reports a conflict; it never writes over a change it did not
make, because every resume write carries the planned precondition. The lines are fsync'd
once (:meth:`Journal.sync`) before the observed state is committed and before the lock is
released, so that what the observed history and the next lock holder see is on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from kops_gitsync.backup.crypt import record_encrypted, store_bytes
from kops_gitsync.errors import FatalError, PreconditionFailed
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.lock import StoreLock
from kops_gitsync.sync.messages import TRAILER_SOURCE, change_message
from kops_gitsync.sync.plan import Action, Op
from kops_gitsync.sync.syncstate import Recorded, SyncState


@dataclass
class JournalEntry:
    op: str
    key: str
    expect: str | None
    sha256: str | None
    blob: str | None  # git blob holding the target bytes


@dataclass
class Applied:
    """One action that reached the store: its new version (None for a delete)."""

    key: str
    op: str
    version: str | None
    size: int
    sha256: str | None
    blob: str | None


@dataclass
class Journal:
    path: Path
    store: str
    url: str
    source_commit: str
    branch: str
    observed_tip: str
    lock_id: str | None
    entries: list[JournalEntry]
    applied: list[Applied] = field(default_factory=list)
    _handle: TextIO | None = field(default=None, repr=False, compare=False)

    @classmethod
    def start(
        cls, ctx: SyncContext, source_commit: str, branch: str, observed_tip: str,
        lock_id: str | None, actions: list[tuple[Action, str | None]],
    ) -> Journal:
        entries = [JournalEntry(a.op.value, a.key, a.expect, a.sha256, blob) for a, blob in actions]
        journal = cls(ctx.journal_path, ctx.name, ctx.url, source_commit, branch, observed_tip,
                      lock_id, entries)
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        header = {k: v for k, v in asdict(journal).items()
                  if k not in ("path", "applied", "_handle")}
        tmp = journal.path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            handle.write(json.dumps(header) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, journal.path)
        _fsync_dir(journal.path.parent)
        return journal

    def record(self, applied: Applied) -> None:
        """Append one completion line; written through to the kernel, not fsync'd (the
        module docstring says why that is safe)."""
        self.applied.append(applied)
        try:
            if self._handle is None:
                # r+ and not "a": a journal removed by someone else must not come back
                # headless
                self._handle = self.path.open("r+")
                self._handle.seek(0, os.SEEK_END)
            if os.fstat(self._handle.fileno()).st_nlink == 0:
                raise FileNotFoundError(self.path)
            self._handle.write(json.dumps(asdict(applied)) + "\n")
            self._handle.flush()
        except FileNotFoundError:
            raise FatalError(
                f"the push journal {self.path} was removed by another process while this push "
                f"was writing; written so far: {', '.join(a.key for a in self.applied)}"
            ) from None

    def sync(self) -> None:
        """Make every completion line durable: before the observed commit and the unlock."""
        if self._handle is not None and not self._handle.closed:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None and not self._handle.closed:
            self.sync()
            self._handle.close()

    def finish(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        if not path.exists():
            return None
        try:
            lines = path.read_bytes().decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise FatalError(
                f"the push journal {path} is damaged (not UTF-8 text at byte {exc.start}); "
                "check the store by hand, then remove the file and run pull"
            ) from None
        try:
            header = _checked(json.loads(lines[0]), _HEADER)
            entries = [JournalEntry(**_checked(e, _ENTRY)) for e in header.pop("entries")]
            journal = cls(path=path, entries=entries, **header)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            raise FatalError(
                f"the push journal {path} is damaged (no plan in its first line); check the "
                "store by hand, then remove the file and run pull"
            ) from None
        for line in lines[1:]:
            try:
                journal.applied.append(Applied(**_checked(json.loads(line), _APPLIED)))
            except (ValueError, TypeError, RecursionError):
                # Only the last line can be torn by a kill; the resume re-checks every
                # action against the store anyway.
                break
        return journal


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (where the platform lets a directory be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


_NONE = type(None)
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_OPS = frozenset(op.value for op in Op)
_HEADER: dict[str, tuple[type, ...]] = {
    "store": (str,), "url": (str,), "source_commit": (str,), "branch": (str,),
    "observed_tip": (str,), "lock_id": (str, _NONE), "entries": (list,),
}
_ENTRY: dict[str, tuple[type, ...]] = {
    "op": (str,), "key": (str,), "expect": (str, _NONE), "sha256": (str, _NONE),
    "blob": (str, _NONE),
}
_APPLIED: dict[str, tuple[type, ...]] = {
    "key": (str,), "op": (str,), "version": (str, _NONE), "size": (int,),
    "sha256": (str, _NONE), "blob": (str, _NONE),
}


def _checked(record: object, types: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    """``record`` if it is a JSON object with exactly these fields, of these types, on one
    line each; else TypeError. A damaged or hand-edited journal must not reach the store with
    a key that is a list, or a commit message with a "commit id" holding a newline (a forged
    trailer)."""
    if not isinstance(record, dict) or set(record) != set(types):
        raise TypeError("not a journal record")
    for name, allowed in types.items():
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise TypeError(name)
        if isinstance(value, str) and not value.isprintable():
            raise TypeError(name)
    for name in ("source_commit", "observed_tip", "blob"):
        if isinstance(record.get(name), str) and not _COMMIT.fullmatch(record[name]):
            raise TypeError(name)
    if "op" in record and record["op"] not in _OPS:
        raise TypeError("op")
    return record


def record_observed(ctx: SyncContext, journal: Journal, note: str) -> str | None:
    """Record what the push wrote as the next observed commit; None if it wrote nothing.

    The commit is the newest observed state (which may be newer than the one the push started
    from: a pull in another worktree) with exactly the applied actions on top: the observed
    history says only what the store holds. Its one parent is that observed state; the pushed
    commit is named in a trailer, not made a parent (sync/observed.py says why).
    """
    from kops_gitsync.sync.pull import load_state

    journal.sync()  # the observed history must never know more than the journal on disk
    repo = ctx.repo
    tip = repo.resolve(ctx.observed_ref)
    if not journal.applied:
        return None
    state: SyncState = load_state(ctx, tip)
    prefix = ctx.mirror_path + "/"
    # secrets: encrypt -- secrets go to their encrypted copy and index (backup/crypt.py)
    applied, changes, written = record_encrypted(ctx, tip, journal.applied)
    deleted: list[str] = []
    created: list[str] = []
    for item in applied:
        if item.op == Op.DELETE.value:
            if state.objects.pop(item.key, None) is not None:
                deleted.append(item.key)
            changes[prefix + item.key] = None
        else:
            assert item.version is not None and item.sha256 is not None and item.blob
            existed = item.key in state.objects
            state.objects[item.key] = Recorded(item.version, item.size, item.sha256)
            changes[prefix + item.key] = item.blob
            (written if existed else created).append(item.key)
    changes[ctx.state_file] = repo.write_blob(state.to_bytes())
    message = change_message(
        operation="push", store=ctx.name, url=ctx.url, added=created, modified=written,
        deleted=deleted, withheld={}, note=note,
    )
    message += f"{TRAILER_SOURCE}: {journal.source_commit}\n"
    tree = repo.build_tree(tip, changes)
    commit = repo.commit_tree(tree, [tip] if tip else [], message)
    repo.update_ref(ctx.observed_ref, commit, tip, f"kops-gitsync push {ctx.name}")
    return commit


def apply_entry(ctx: SyncContext, journal: Journal, entry: JournalEntry) -> Applied:
    """Carry out one planned action with its precondition, and journal it."""
    data = entry_bytes(ctx, entry)
    applied = write_entry(ctx, journal, entry, data)
    journal.record(applied)
    return applied


def entry_bytes(ctx: SyncContext, entry: JournalEntry) -> bytes | None:
    """What the store gets for ``entry``: its blob, or for an encrypted secret copy its
    plaintext (secrets: encrypt, backup/crypt.py). Read in the thread that owns git, before
    the write is launched, so a damaged copy stops the push before anything is written."""
    if not entry.blob:
        return None
    return store_bytes(ctx, entry.key, ctx.repo.read_blob(entry.blob), entry.sha256)


def write_entry(
    ctx: SyncContext, journal: Journal, entry: JournalEntry, data: bytes | None
) -> Applied:
    """Carry out one planned action with its precondition (``data``: the target bytes, read
    from ``entry.blob`` by the caller); the caller journals it. Touches the store only, so
    that sync/apply.py can run several at once."""
    store = ctx.store
    if entry.op == Op.DELETE.value:
        with contextlib.suppress(FileNotFoundError):  # already gone: the outcome we wanted
            store.delete(entry.key, if_match=entry.expect)
        applied = Applied(entry.key, entry.op, None, 0, None, None)
    else:
        assert entry.blob is not None and data is not None
        # Traceable to its review where the scheme keeps user metadata (S3, GCS, Swift, OSS).
        meta = {"kops-gitsync-commit": journal.source_commit,
                "kops-gitsync-branch": journal.branch}
        if entry.expect is None:
            version = store.write(entry.key, data, if_none_match=True, metadata=meta)
        else:
            version = store.write(entry.key, data, if_match=entry.expect, metadata=meta)
        applied = Applied(entry.key, entry.op, version, len(data), entry.sha256, entry.blob)
    return applied


def finish_interrupted_push(ctx: SyncContext, lock: StoreLock | None = None) -> Journal | None:
    """Complete (or account for) a push that was killed part-way; None if there was none.

    ``lock``: a lock the caller already holds (the daemon's lease); otherwise the journal's
    own lock is adopted, or a new one taken, for the duration.
    """
    journal = Journal.load(ctx.journal_path)
    if journal is None:
        return None
    print(f"kops-gitsync: finishing the interrupted push of {journal.source_commit[:12]} "
          f"to {ctx.name}", file=sys.stderr)
    own_lock = None
    if lock is None:
        own_lock = StoreLock(ctx.store, "push (resume)")
        own_lock.acquire(adopt_id=journal.lock_id)
        ctx = replace(ctx, store=own_lock.fenced(ctx.store))
    try:
        done = {a.key for a in journal.applied}
        conflicts = []
        for entry in journal.entries:
            if entry.key in done:
                continue
            try:
                current = ctx.store.read(entry.key)
            except FileNotFoundError:
                current = None
            if entry.op == Op.DELETE.value and current is None:
                journal.record(Applied(entry.key, entry.op, None, 0, None, None))
            elif current is not None and entry.sha256 == hashlib.sha256(current.data).hexdigest():
                journal.record(Applied(entry.key, entry.op, current.version, len(current.data),
                                       entry.sha256, entry.blob))
            elif (current.version if current else None) == entry.expect:
                try:
                    apply_entry(ctx, journal, entry)
                except (PreconditionFailed, FileNotFoundError):
                    conflicts.append(entry.key)
            else:
                conflicts.append(entry.key)
        written = ", ".join(a.key for a in journal.applied if a.op != Op.DELETE.value) or "none"
        removed = ", ".join(a.key for a in journal.applied if a.op == Op.DELETE.value)
        note = f"Completed an interrupted push from {journal.branch}."
        if conflicts:
            note += " Not applied (changed in the store meanwhile): " + ", ".join(conflicts)
        record_observed(ctx, journal, note)
        journal.finish()
        print(f"kops-gitsync: interrupted push finished; written: {written}"
              + (f"; deleted: {removed}" if removed else ""), file=sys.stderr)
        if conflicts:
            print("kops-gitsync: these changed in the store meanwhile and were NOT written: "
                  + ", ".join(conflicts), file=sys.stderr)
        return journal
    finally:
        journal.close()  # fsync'd before the lock goes: the next holder reads it
        if own_lock is not None:
            own_lock.release()
