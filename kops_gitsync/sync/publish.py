"""After ``push --yes``: publish the observed commit that names the pushed commit.

Without this, the only record linking the store write to its review stayed in the clone
that pushed. The daemon (or a teammate) then saw the write as a change "in the store",
recorded its own pull commit for it, and published that: two observed histories that never
meet again (the daemon only fast-forwards to the remote's, and a clone keeps its own when
they diverge), and ``kops-gitsync log`` in every other clone lost the pushed commit.

So push sends its observed ref to the review remote right away, non-forced, with
``--no-verify`` (it is the store's record, not a branch for review: the pre-push hook has
nothing to say about it). A refusal (the remote's observed ref moved: a daemon pulled in
between) or no write access to the remote is a warning: the store write is done and
recorded here, and nothing is lost.
"""

from __future__ import annotations

from kops_gitsync.gitrepo.gitproc import CommandFailed
from kops_gitsync.sync.authority import review_remote
from kops_gitsync.sync.context import SyncContext


def publish_observed(ctx: SyncContext, branch: str | None) -> str | None:
    """Push ``ctx``'s observed ref to the review remote; the line to print (None: no remote)."""
    repo = ctx.repo
    remote = review_remote(repo, branch)
    if remote is None or repo.resolve(ctx.observed_ref) is None:
        return None
    ref = ctx.observed_ref
    try:
        repo.git.push("--quiet", "--porcelain", "--no-verify", remote, f"{ref}:{ref}")
    except CommandFailed as exc:
        lines = [line.strip() for line in str(exc.stderr or exc).splitlines() if line.strip()]
        reason = lines[-1].removeprefix("stderr: ").strip("' ") if lines else "git push failed"
        return (f"warning: the store write is recorded on {ref} here, but {remote} refused it "
                f"({reason}); the other clones will see it as a store change. "
                f"`git push {remote} {ref}` retries")
    return f"published {ref} to {remote}"
