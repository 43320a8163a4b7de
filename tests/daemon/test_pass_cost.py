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


def test_store_requests_are_in_the_status_file_and_a_metric() -> None:
    """The daemon's cost in requests is visible: in ``status`` and on ``/metrics``."""
    from kops_gitsync.daemon.metrics import Metrics
    from kops_gitsync.daemon.state import DaemonState, StoreState, describe
    from kops_gitsync.vfs.base import RequestCounts

    class Counted:
        request_counts = RequestCounts()

    counted = Counted()
    counted.request_counts.add("LIST")
    counted.request_counts.add("LIST")
    counted.request_counts.add("GET")
    runner = type("R", (), {})()
    from kops_gitsync.daemon.runner import StoreRunner

    runner.ctx = type("C", (), {"store": counted})()
    runner.state = StoreState(url="s3://bucket", auto_push=False)
    StoreRunner.count_requests(runner)
    assert runner.state.store_requests == {"LIST": 2, "GET": 1}

    state = DaemonState(stores={"dev": runner.state})
    lines = describe({**state.to_json(), "running": True})
    assert any("store requests since start: GET=1 LIST=2" in line for line in lines)
    metrics = Metrics(lambda: state.stores)
    metrics.serve()
    text = metrics.exposition().decode()
    assert 'kops_gitsync_store_requests_total{kind="LIST",store="dev"} 2.0' in text


def test_the_hourly_cost_of_polling() -> None:
    from kops_gitsync.daemon.metrics import hourly_request_cost

    passes, requests, dollars = hourly_request_cost({"LIST": 5}, 300.0)
    assert (passes, requests) == (12.0, 60)
    assert abs(dollars - 60 * 0.005 / 1000) < 1e-12
