"""Which commit may be pushed to a store, and who says so.

The seam every writer (``push``, the daemon, ``status``) goes through to ask "is this branch
approved for this store, and which commit does it approve?". Kept in one module so the rule
cannot drift between the CLI, the daemon and the hooks.
"""

from __future__ import annotations

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.context import SyncContext


def approved_commit(
    ctx: SyncContext, branch: str | None, check_approval: bool = True
) -> tuple[str, str]:
    """(branch name, commit) to push to ``ctx``'s store; FatalError when not approved."""
    repo = ctx.repo
    name = branch or repo.current_branch()
    if name is None:
        raise FatalError("HEAD is detached: check out the approved branch, or pass --branch")
    commit = repo.resolve(f"refs/heads/{name}")
    if commit is None:
        raise FatalError(f"no branch named {name!r} with commits")
    default = repo.default_branch()
    if check_approval and not ctx.config.approves(name, default):
        patterns = ", ".join(ctx.config.approved_branches or (default,))
        raise FatalError(
            f"branch {name!r} is not approved for store {ctx.name!r} (approved: {patterns}); "
            "merge the change into an approved branch after review, then push from there"
        )
    return name, commit
