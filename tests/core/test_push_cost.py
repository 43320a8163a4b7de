"""What a push costs in git processes, counted rather than timed (issue 12).

A push asked ``git ls-tree -r`` for every commit it compares (the observed state, the
branch; for a production store every unreviewed commit and its parents), ``rev-list`` for
the observed chain, and built each observed commit's tree through a throw-away index
(``read-tree``, ``update-index``, ``write-tree``). Trees are now read and written through
the repository's one ``cat-file --batch`` (tests/core/test_git_trees.py shows they are the
trees git would read and write). Before: 12 processes for a push, 18 for a production push
judging a local merge, 11 for a daemon pass that pushes; now 6, 9 and 5.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.gitrepo import gitproc
from kops_gitsync.gitrepo import repo as repo_module
from tests.core.conftest import Run, git, snapshot
from tests.core.test_approval import Review, review  # noqa: F401  (the fixture)

NODES = "minimal-aws.example.com/instancegroup/nodes"
MASTER = "minimal-aws.example.com/instancegroup/master-us-test-1a"

BOUND = 6  # was 12 (discover, cat-file, config, log, rev-list, 2 ls-tree, 5 to write)


def count_spawns(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    monkeypatch.setattr(repo_module, "_DISCOVERED", {})  # count finding the repository too
    spawned: list[list[str]] = []
    real = gitproc.spawn

    def counting(args: list[str], *rest: Any, **kw: Any) -> Any:
        spawned.append(list(args))
        return real(args, *rest, **kw)

    monkeypatch.setattr(gitproc, "spawn", counting)
    return spawned


def test_a_push_of_a_few_changes_starts_few_git_processes(
    pulled: tuple[Path, Path], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, store = pulled
    for key, old, new in ((NODES, "maxSize: 2", "maxSize: 5"),
                          (MASTER, "maxSize: 1", "maxSize: 1\n  # reviewed")):
        path = repo / "state" / key
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    (repo / "state" / "minimal-aws.example.com/instancegroup/extra").write_text(
        (repo / "state" / NODES).read_text().replace("name: nodes", "name: extra"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "three changes")
    before = snapshot(store)
    spawned = count_spawns(monkeypatch)
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0, result.err
    after = snapshot(store)
    assert {k for k in set(before) | set(after) if before.get(k) != after.get(k)} == {
        NODES, MASTER, "minimal-aws.example.com/instancegroup/extra"}
    names = [" ".join(a[:3]) for a in spawned]
    assert len(spawned) <= BOUND, (len(spawned), names)
    # and the observed chain still records the push, single-parent
    assert "up to date" in cli("pull", cwd=repo).out


PROD_BOUND = 9  # was 15: the same plus fetch, rev-list --not, push of the ref


def test_a_reviewed_push_to_a_production_store_starts_few_git_processes(
    review: Review,  # noqa: F811  (the fixture imported above)
    cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Production: the approved branch is fetched, every commit not on it is judged."""
    for size in (3, 4, 5):
        review.edit(old=f"maxSize: {size - 1}" if size > 3 else "maxSize: 2",
                    new=f"maxSize: {size}")
        review.commit(f"nodes: maxSize {size}")
    git(review.repo, "push", "-q", "origin", "main")
    master = review.store / MASTER  # changed behind everyone's back: pull merges it locally
    master.write_text(master.read_text().replace("maxSize: 1", "maxSize: 1\n  # store"))
    assert cli("pull", cwd=review.repo).code == 0
    assert git(review.repo, "rev-parse", "HEAD^2")  # the merge is not on origin: judged
    spawned = count_spawns(monkeypatch)
    result = cli("push", "--yes", cwd=review.repo)
    assert result.code == 0, result.err
    assert b"maxSize: 5" in (review.store / NODES).read_bytes()
    names = [" ".join(a[:3]) for a in spawned]
    assert len(spawned) <= PROD_BOUND, (len(spawned), names)


DAEMON_BOUND = 5  # was 11: the 2 ls-tree, rev-list and the 3 index steps went


def test_a_daemon_pass_that_pushes_starts_few_git_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kops_gitsync.vfs.memfs import MemoryStore
    from tests.daemon.conftest import make_repo
    from tests.daemon.test_engine import daemon_for, fixture_store

    url = "memfs://push-cost"
    fixture_store(url)
    repo = make_repo(tmp_path / "repo", [{"name": "dev", "state": url, "auto_push": True}])
    daemon = daemon_for(repo)
    try:
        runner = daemon.runners["dev"]
        daemon._turn(runner)  # the first pull mirrors the store
        assert runner.state.last_error is None, runner.state.last_error
        path = repo / "state" / NODES
        path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 5"))
        git(repo, "commit", "-qam", "nodes: maxSize 5")
        spawned = count_spawns(monkeypatch)
        runner.schedule.poke("timer", time.monotonic() - 1)
        daemon._remote(fetch=True)
        daemon._turn(runner)
        daemon._remote(fetch=False)
        daemon._publish()
        assert runner.state.last_error is None, runner.state.last_error
        assert b"maxSize: 5" in MemoryStore.from_url(url, {}).read(NODES).data
        names = [" ".join(a[:3]) for a in spawned]
        assert len(spawned) <= DAEMON_BOUND, (len(spawned), names)
    finally:
        daemon._shutdown()
        MemoryStore.reset(url)
