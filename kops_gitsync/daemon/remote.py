"""The review repository's git remote: fetch approvals in, publish store drift out.

Teams approve on the remote (a merged pull request), so the daemon fetches the branch it
tracks and merges it when nobody is working in its clone; the ref watcher then sees the
branch move and the push follows. With ``--push-remote`` it also publishes what it pulled:
the observed refs and the branch they were merged into, so store drift shows up as commits
where the team reviews. Both directions are plain, non-forced git operations: a rejected
push (the remote moved) is retried after the next fetch has merged it.
"""

from __future__ import annotations

import logging
import time

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.runner import StoreRunner, error_kind, work_in_progress
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.sync.context import SyncContext


def remote_of(repo: GitRepo) -> str | None:
    """The remote the checked-out branch tracks, if any."""
    branch = repo.current_branch()
    if branch is None:
        return None
    values = repo.config_get(f"branch.{branch}.remote")
    return values[0].strip() if values else None


def remote_observed_ref(remote: str, observed_ref: str) -> str:
    return observed_ref.replace("refs/kops-gitsync/", f"refs/kops-gitsync/remotes/{remote}/", 1)


def fetch_upstream(repo: GitRepo) -> str | None:
    """``git fetch`` the tracked remote; returns the upstream commit (None: no upstream).

    The remote's observed refs (published by whichever daemon holds a store's lease) are
    fetched too, into their own namespace: :func:`adopt_observed` fast-forwards ours to
    them, so a standby that takes over continues the holder's history instead of starting
    a second one.
    """
    remote = remote_of(repo)
    if remote is None:
        return None
    configured = repo.config_get(f"remote.{remote}.fetch")
    observed = f"+refs/kops-gitsync/observed/*:refs/kops-gitsync/remotes/{remote}/observed/*"
    repo.fetch(remote, *configured, observed)
    return repo.resolve("@{upstream}")


def adopt_observed(repo: GitRepo, observed_refs: list[str]) -> list[str]:
    """Fast-forward our observed refs to the remote's; returns the refs that moved.

    Only a fast-forward: a remote state that does not contain ours is another daemon's
    divergent history (a split brain the lease should have prevented) and is left alone.
    """
    remote = remote_of(repo)
    if remote is None:
        return []
    moved = []
    for ref in observed_refs:
        theirs = repo.resolve(remote_observed_ref(remote, ref))
        ours = repo.resolve(ref)
        if theirs is None or theirs == ours:
            continue
        if ours is None or repo.is_ancestor(ours, theirs):
            repo.update_ref(ref, theirs, ours, "kops-gitsync daemon: fast-forward from remote")
            moved.append(ref)
    return moved


def publishable(repo: GitRepo, observed_refs: list[str]) -> list[str]:
    """Refspecs worth pushing: every observed ref, and the branch if it is ahead only."""
    specs = [f"{ref}:{ref}" for ref in observed_refs if repo.resolve(ref) is not None]
    branch, head, upstream = repo.current_branch(), repo.head_commit(), repo.resolve("@{upstream}")
    if not branch or not head or head == upstream:
        return specs
    if upstream is not None and not repo.is_ancestor(upstream, head):
        return specs  # diverged: the next fetch merges, then the branch goes out
    targets = repo.config_get(f"branch.{branch}.merge")
    if not targets:
        return specs  # no upstream branch configured
    specs.append(f"refs/heads/{branch}:{targets[0].strip()}")
    return specs


def push_upstream(repo: GitRepo, specs: list[str]) -> None:
    """Non-forced push of ``specs`` to the tracked remote (raises GitCommandError if refused)."""
    remote = remote_of(repo)
    if remote is None or not specs:
        return
    repo.push_refs(remote, *specs)


class RemoteSync:
    """When to fetch, and what was last published, between turns of the loop."""

    def __init__(self, fetch_interval: float, push: bool) -> None:
        self.fetch_interval = fetch_interval
        self.push = push
        self._last_fetch: float | None = None  # never: the first fetch is due at once
        self._published: tuple[str | None, ...] | None = None
        self.last_error: str | None = None  # of the last fetch or publish, for --once

    def fetch_wait(self) -> float | None:
        if self.fetch_interval <= 0:
            return None
        if self._last_fetch is None:
            # Not "0.0 seconds since boot": monotonic time starts near 0 at boot, which
            # postponed the first fetch of a daemon (or a cron --once) started right then.
            return 0.0
        return max(0.0, self._last_fetch + self.fetch_interval - time.monotonic())

    def maybe_fetch(self, repo: GitRepo, runners: list[StoreRunner]) -> list[str]:
        """Fetch and merge approvals when due and nobody works in the tree.

        Returns the stores to poke (the ones that may push) when the branch moved.
        """
        self.last_error = None
        if not runners or self.fetch_wait() != 0.0:
            return []
        self._last_fetch = started = time.monotonic()
        pushers = [r.name for r in runners if r.ctx.config.auto_push]
        if not pushers and not self.push:
            return []
        try:
            upstream = fetch_upstream(repo)
            adopt_observed(repo, [r.ctx.observed_ref for r in runners])
            head = repo.head_commit()
            if upstream is None or head is None or repo.is_ancestor(upstream, head):
                return []
            wip = work_in_progress(runners[0].ctx)
            if wip is not None:
                logs.event(store="*", action="fetch", result="deferred", reason=wip)
                return []
            merged = repo.merge(upstream, "Merge approved changes from upstream")
            if not merged.ok:
                raise FatalError(f"merging {upstream[:12]} failed: "
                                 f"{merged.refused or ', '.join(merged.conflicts)}")
        except Exception as exc:
            logs.event(logging.ERROR, "", store="*", action="fetch", result="error",
                       kind=error_kind(exc), error=str(exc).strip()[-500:])
            self.last_error = f"fetch from the git remote failed: {str(exc).strip()[-300:]}"
            return []
        logs.event(store="*", action="fetch", result="merged", commit=upstream[:12],
                   duration=round(time.monotonic() - started, 3))
        self._published = None  # the branch moved: worth publishing again
        return pushers

    def publish(self, repo: GitRepo, contexts: list[SyncContext]) -> None:
        """With --push-remote: send new observed states (and the merged branch) upstream."""
        self.last_error = None
        if not self.push:
            return
        try:
            specs = publishable(repo, [ctx.observed_ref for ctx in contexts])
            signature = tuple(repo.resolve(spec.split(":", 1)[0]) for spec in specs)
            if not specs or signature == self._published:
                return
            self._published = signature  # a refused push waits for the next change or fetch
            started = time.monotonic()
            push_upstream(repo, specs)
        except Exception as exc:
            logs.event(logging.WARNING, "", store="*", action="publish", result="error",
                       kind=error_kind(exc), error=str(exc).strip()[-500:])
            self.last_error = f"publish to the git remote failed: {str(exc).strip()[-300:]}"
            return
        logs.event(store="*", action="publish", result="pushed", refs=len(specs),
                   duration=round(time.monotonic() - started, 3))
