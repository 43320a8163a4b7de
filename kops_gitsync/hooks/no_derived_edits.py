"""``kops-no-derived-edits``: generated objects change only through pulls.

``cluster-completed.spec``, ``igconfig/``, ``manifests/``, ``addons/`` and
``kops-version.txt`` are written by ``kops update cluster``. A hand edit is either lost at
the next update or, worse, pushed: nodeup refuses a nodeupconfig whose hash moved and
channels re-applies a changed addon within a minute. The only legitimate source of such a
change is a pull, which merges ``refs/kops-gitsync/observed/<store>``; that merge is
recognised by the merged commit being (an ancestor of) an observed ref, and even then only
paths whose staged content is exactly what a merged store state holds pass: a hand edit made
in the middle of such a merge is still a hand edit.

A file whose staged content is what its store holds is not an edit at all, whatever list
it came in: ``pre-commit run --all-files`` passes every file, and on a freshly pulled,
untouched repository every generated object is such a file. "What the store holds" is the
SHA-256 the committed sync state (``.kops-gitsync/<store>.json`` in HEAD) records for the key,
which every clone has, or the content on the store's observed ref, which the pulling
clone has. A deletion is an edit only if one of them still has the object.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import HookContext, ObjectPath, changed_paths, print_listing
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.sync.syncstate import SyncState, state_path


def _is_pull_merge(ctx: HookContext) -> bool:
    """Every commit being merged is (an ancestor of) a pulled store state."""
    heads = staged.merge_heads(ctx.root)
    tips = staged.observed_tips(ctx.root)
    return bool(heads) and all(
        any(head == tip or staged.is_ancestor(head, tip, ctx.root) for tip in tips)
        for head in heads
    )


def _not_from_merged_state(ctx: HookContext, paths: list[str]) -> list[str]:
    """The paths whose staged content (or absence) matches none of the merged heads."""
    index = ctx.reader.index
    heads = [ctx.reader.tree(head) for head in staged.merge_heads(ctx.root)]
    return [path for path in paths if all(head.get(path) != index.get(path) for head in heads)]


def _recorded(ctx: HookContext, store: str) -> dict[str, str]:
    """key -> SHA-256 the sync state of ``store`` in HEAD records (empty if none/damaged)."""
    where = state_path(store)
    raw = ctx.reader.show(ctx.head, where) if ctx.head else None
    if raw is None:
        return {}
    try:
        state = SyncState.from_bytes(raw, where)
    except FatalError:
        return {}  # pull and push report a damaged sync state, with the fix
    return {key: rec.sha256 for key, rec in state.objects.items()}


def _same(staged_id: str | None, observed_id: str | None) -> bool:
    """Staged with exactly the blob the observed ref has (absent from the index: never)."""
    return staged_id is not None and staged_id == observed_id


def _store_edits(ctx: HookContext, name: str, group: list[ObjectPath]) -> list[str]:
    """The paths of one store whose staged content (or absence) is not what it holds.

    Blob ids first: a file whose index entry has the id the observed ref has for it is the
    store's content without reading a byte (every file of an untouched pull); only the
    others are read and hashed against the sync state.
    """
    tip = staged.resolve(staged.OBSERVED_PREFIX + name, ctx.root)
    paths = [o.path for o in group]
    observed = ctx.reader.tree(tip, paths if len(paths) <= 100 else ())
    unsure = [o for o in group if not _same(ctx.reader.index_id(o.path), observed.get(o.path))]
    if not unsure:
        return []
    recorded = _recorded(ctx, name)
    if not recorded and tip is None:  # never pulled here: nothing to compare with
        return [o.path for o in unsure]
    data = ctx.reader.index_blobs(o.path for o in unsure)
    edits = []
    for obj in unsure:
        staged_now = data.get(obj.path)
        if staged_now is None:
            edited = obj.key in recorded or obj.path in observed
        else:
            edited = recorded.get(obj.key) != hashlib.sha256(staged_now).hexdigest()
        if edited:
            edits.append(obj.path)
    return edits


def _differ_from_store(ctx: HookContext, objs: list[ObjectPath]) -> list[str]:
    """The paths whose staged content (or absence) is not what their store holds."""
    by_store: defaultdict[str | None, list[ObjectPath]] = defaultdict(list)
    for obj in objs:
        by_store[obj.store.name if obj.store is not None else None].append(obj)
    edits: list[str] = []
    for name, group in by_store.items():
        if name is None:  # a folder that looks like a store but is not configured as one
            edits.extend(o.path for o in group)
        else:
            edits.extend(_store_edits(ctx, name, group))
    return sorted(edits)


def run(ctx: HookContext) -> int:
    objs = [
        obj for obj in ctx.layout.objects(changed_paths(ctx)) if classify(obj.key) is Kind.DERIVED
    ]
    derived = _differ_from_store(ctx, objs) if objs else []
    if derived and _is_pull_merge(ctx):
        derived = _not_from_merged_state(ctx, derived)
    if not derived:
        return 0
    print_listing(
        ctx, "generated objects (written by `kops update cluster`) changed by hand:", derived
    )
    ctx.say(
        "Edit the Cluster or InstanceGroup instead and let `kops update cluster` regenerate "
        "these; `kops-gitsync pull` brings the result into git. To undo: git restore --staged "
        "--worktree <file>."
    )
    return 1
