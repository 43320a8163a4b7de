"""What a daemon pass on an unchanged store costs in git processes (issue 16: at most 3).

Counted, not timed: every git process the sync engine starts goes through
``gitproc.spawn``, which the test wraps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kops_gitsync.gitrepo import gitproc
from kops_gitsync.vfs.memfs import MemoryStore
from tests.daemon.conftest import make_repo
from tests.daemon.test_engine import daemon_for, fixture_store


@pytest.fixture
def memfs_url() -> Iterator[str]:
    url = "memfs://pass-cost"
    yield url
    MemoryStore.reset(url)


@pytest.mark.parametrize("auto_push", [False, True])
def test_a_pass_on_an_unchanged_store_starts_at_most_three_git_processes(
    tmp_path: Path, memfs_url: str, monkeypatch: pytest.MonkeyPatch, auto_push: bool
) -> None:
    fixture_store(memfs_url)
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": memfs_url, "auto_push": auto_push}])
    daemon = daemon_for(repo)
    try:
        runner = daemon.runners["dev"]
        daemon._turn(runner)  # the first pull mirrors the store
        assert runner.state.last_error is None, runner.state.last_error
        spawned: list[list[str]] = []
        real = gitproc.spawn

        def counting(args: list[str], *rest: object, **kw: object):  # type: ignore[no-untyped-def]
            spawned.append(args)
            return real(args, *rest, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(gitproc, "spawn", counting)
        runner.schedule.poke("timer", time.monotonic() - 1)
        daemon._remote(fetch=True)
        daemon._turn(runner)
        daemon._remote(fetch=False)
        daemon._publish()
        assert runner.state.last_error is None, runner.state.last_error
        assert len(spawned) <= 3, [" ".join(a[:4]) for a in spawned]
    finally:
        daemon._shutdown()
