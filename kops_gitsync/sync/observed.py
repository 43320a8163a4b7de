"""The observed history of a store, and merging it into a branch.

``refs/kops-gitsync/observed/<store>`` is a single-parent chain of commits whose trees hold
only the mirror and the sync state: exactly what the store held, nothing from any branch. A
push records what it wrote as one more link of that chain and names the pushed commit in a
``Kops-Gitsync-Source`` trailer instead of making it a parent; a parent would hand every
branch that later pulls the pushed branch's whole history (its README, its
``.kops-gitsync.yaml``) and would make git take an unwritten reviewed edit for one the store
had already answered.

Because the pushed commit is not an ancestor, git's own merge base would see a follow-up edit
as a conflict with its own push. :func:`merge_observed` therefore merges against a base of its
own making: the newest observed state the branch contains, plus every object a push *from an
ancestor of the branch* wrote since. Only keys the branch really disagrees with the store on
can conflict; a reviewed edit the store never received stays on the branch, pending.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import EMPTY_TREE, GitRepo
from kops_gitsync.gitrepo.treemerge import Conflict, advance_head, merge_trees
from kops_gitsync.sync.context import SyncContext
from kops_gitsync.sync.messages import TRAILER_OPERATION, TRAILER_SOURCE, TRAILER_STORE

_KEY_FILES = re.compile(r"^[^/]+/(config|instancegroup/[^/]+)$")


def push_source(repo: GitRepo, commit: str) -> str | None:
    """The pushed commit an observed push commit records, else None."""
    message = repo.commit_message(commit)
    if f"\n{TRAILER_OPERATION}: push\n" not in f"\n{message}":
        return None
    match = re.search(rf"^{TRAILER_SOURCE}: ([0-9a-f]{{40}})$", message, re.MULTILINE)
    return match.group(1) if match else None


def observed_tip(ctx: SyncContext) -> str | None:
    """The newest observed commit of the store this clone knows, moving the ref forward.

    Observed commits reach other clones inside branches (every pull merges them), so a
    teammate's fresh clone, or one whose last pull is older than main's, finds the newest
    one there instead of starting a second, unrelated store history. The search excludes
    what the local ref already contains, so it costs one short ``git log``.
    """
    repo = ctx.repo
    local = repo.resolve(ctx.observed_ref)
    revs = ["HEAD", "--branches", "--remotes"] + ([f"^{local}"] if local else [])
    try:
        found = repo.log_grep(revs, [
            f"^{TRAILER_STORE}: {re.escape(ctx.name)}$",
            f"^{TRAILER_OPERATION}: (pull|push)$",
        ])
    except Exception:
        found = None
    if found is None or found == local:
        return local
    if local is not None and not repo.is_ancestor(local, found):
        return local  # two histories: keep ours; the next pull still reads what changed
    forged = _not_observed(ctx, found, local)
    if forged:
        print(f"kops-gitsync: warning: ignoring commit {found[:12]}, which says it is a state "
              f"of store {ctx.name}: {forged}", file=sys.stderr)
        return local
    # Adopted, not read: the versions it records are a claim until a pull has read them.
    ctx.adopted_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.adopted_path.write_text(found + "\n")
    repo.update_ref(ctx.observed_ref, found, local, f"kops-gitsync: newest {ctx.name} state")
    return found


def _not_observed(ctx: SyncContext, found: str, local: str | None) -> str | None:
    """Why the commits ``local..found`` are not a store's observed history, or None.

    Two trailer lines make any commit look like one, and anyone can push a branch to the
    review remote: adopting its tree as is would let ``pull`` fast-forward a branch to it. An
    observed history is a single-parent chain that touches only the mirror and the state.
    """
    repo = ctx.repo
    revs = [found] + ([f"^{local}"] if local else [])
    if repo.git.rev_list("--min-parents=2", "-n1", *revs).strip():
        return "its history has merge commits, which an observed history never has"
    outside = repo.git.log(
        "-n1", "--format=%H", *revs, "--", ".", f":(exclude,literal){ctx.mirror_path}",
        f":(exclude,literal){ctx.state_file}",
    ).strip()
    if outside:
        return (f"{outside[:12]} changes files outside {ctx.mirror_path}/ and "
                f"{ctx.state_file}, which a store state never does")
    return None


def store_lost(recorded: Mapping[str, object], live: Mapping[str, str]) -> str | None:
    """A message when the store holds none of what git recorded from it, else None.

    A deleted and recreated bucket, a wrong prefix or an emptied folder all look like "every
    object was deleted"; a push would then call the missing objects store-side changes and a
    pull would record a mass deletion. Both must stop and say so instead.
    """
    if not recorded or any(key in live for key in recorded):
        return None
    return (
        f"the store lost everything git holds from it ({len(recorded)} objects, none left): "
        "it was emptied, recreated or the URL points elsewhere. Nothing was changed; to "
        "rebuild it from git see docs/recovery.md (restore), or check the URL"
    )


def _merge_base_tree(ctx: SyncContext, head: str, commit: str) -> str:
    """Newest observed state ``head`` contains, plus what pushes from ``head``'s past wrote."""
    repo = ctx.repo
    base = repo.merge_base(head, commit)
    overlay: dict[str, str | None] = {}
    # One git call finds the pushes newer than the base (usually none), not two per commit.
    pushes = repo.first_parent_grep(commit, base, f"^{TRAILER_OPERATION}: push$")
    for observed in reversed(pushes):
        source = push_source(repo, observed)
        parents = repo.parents(observed)
        if source is None or not parents or not repo.is_ancestor(source, head):
            continue
        overlay.update(repo.changed_paths(parents[0], observed, ctx.mirror_path))
    if not overlay:
        return repo.tree_of(base) if base else EMPTY_TREE
    return repo.build_tree(base, overlay)


def merge_observed(ctx: SyncContext, commit: str) -> bool:
    """Merge the observed store state into the current branch; False if already there."""
    repo = ctx.repo
    head = repo.head_commit()
    if head is not None and repo.is_ancestor(commit, head):
        return False
    busy = repo.operation_in_progress()
    if busy:
        raise FatalError(
            f"the store state is recorded on {ctx.observed_ref}, but the repository is in the "
            f"middle of {busy}; finish it, then run pull again to merge"
        )
    dirty = repo.dirty_paths([ctx.mirror_path, ctx.state_file])
    if dirty:
        shown = ", ".join(dirty[:10]) + (" ..." if len(dirty) > 10 else "")
        raise FatalError(
            f"the store state is recorded on {ctx.observed_ref}, but there are uncommitted "
            f"changes in {shown}; commit or stash them, then run pull again (nothing was lost)"
        )
    branch = repo.current_branch() or "HEAD"
    message = (
        f"Merge store {ctx.name} into {branch}\n\n"
        f"{TRAILER_STORE}: {ctx.name}\n{TRAILER_OPERATION}: pull-merge\n"
    )
    if head is None:
        outcome = repo.merge(commit, message)  # an unborn branch: git checks out the commit
        if outcome.refused:
            raise FatalError(f"git refused to merge {ctx.observed_ref}: {outcome.refused}")
        return True
    if repo.is_ancestor(head, commit):  # a fast-forward, put back whole if files cannot be
        advance_head(repo, head, commit, f"kops-gitsync pull: fast-forward {ctx.name}")
        return True
    base_tree = _merge_base_tree(ctx, head, commit)
    merged = merge_trees(repo, base_tree, head, commit, _Resolver(ctx))
    if merged.tree is None:
        shown = "; ".join(f"{c.path} ({c.reason})" for c in merged.conflicts[:20])
        raise FatalError(
            f"the store state on {ctx.observed_ref} conflicts with {branch} in: {shown}. "
            f"Your branch was left as it was. To resolve: git merge {ctx.observed_ref}, "
            "keep what the store should hold, commit, then run pull again."
        )
    new = repo.commit_tree(merged.tree, [head, commit], message)
    advance_head(repo, head, new, f"kops-gitsync pull: merge {ctx.name}")
    return True


class _Resolver:
    """How pull settles a path both sides changed: by kind of file, never by attributes."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.prefix = ctx.mirror_path + "/"

    def __call__(
        self, path: str, base: str | None, ours: str | None, theirs: str | None
    ) -> str | Conflict | None:
        if path == self.ctx.state_file:
            return theirs  # the sync state is the store's own record: the newest one wins
        if ours is None or theirs is None:
            if ours == theirs:
                return None
            gone = "the store" if theirs is None else "this branch"
            return Conflict(path, f"deleted in {gone}, changed on the other side")
        if base is None:
            return Conflict(path, "created in the store and on this branch")
        from kops_gitsync.merge import line_merge, merge_files

        repo = self.ctx.repo
        old, mine, new = (repo.read_blob(sha) for sha in (base, ours, theirs))
        key = path[len(self.prefix):] if path.startswith(self.prefix) else ""
        if _KEY_FILES.match(key):
            result = merge_files(old, mine, new, name=path)
            if not result.clean:
                return Conflict(path, "both changed " + ", ".join(result.conflicts[:5]))
            return repo.write_blob(result.text)
        text, count = line_merge(old, mine, new, labels=("ours", "base", "theirs"))
        if count:
            return Conflict(path, "both sides changed the same lines")
        return repo.write_blob(text)
