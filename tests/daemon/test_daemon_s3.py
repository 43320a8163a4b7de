"""``kops-gitsync daemon`` as a subprocess against moto's S3 server: interval pulls, pushes,
an outage and its recovery, and signals in the middle of a push."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_STORES
from tests.daemon.conftest import (
    CLUSTER,
    DaemonProc,
    git,
    make_repo,
    pull_commits,
    wait_for,
)
from tests.doubles.failing_proxy_double import FailingProxyDouble
from tests.servers.s3 import admin_client, new_bucket, s3_env

pytestmark = pytest.mark.slow

Start = Callable[..., DaemonProc]
MANY = 300  # objects in the push that gets interrupted: long enough to be caught mid-way


@pytest.fixture
def bucket(moto_server: str) -> str:
    """A fresh bucket holding the minimal-aws fixture store."""
    name = new_bucket(moto_server)
    client = admin_client(moto_server)
    root = FIXTURE_STORES / "minimal-aws"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        client.put_object(Bucket=name, Key=path.relative_to(root).as_posix(),
                          Body=path.read_bytes())
    return name


@pytest.fixture
def proxy(moto_server: str) -> Iterator[FailingProxyDouble]:
    double = FailingProxyDouble(moto_server, 0).start()
    yield double
    double.stop()


def daemon_env(endpoint: str) -> dict[str, str]:
    return s3_env(endpoint, KOPS_GITSYNC_S3_CONDITIONAL="on")


def get(moto_server: str, bucket: str, key: str) -> bytes:
    body: Any = admin_client(moto_server).get_object(Bucket=bucket, Key=key)["Body"]
    data: bytes = body.read()
    return data


def put(moto_server: str, bucket: str, key: str, data: bytes) -> None:
    admin_client(moto_server).put_object(Bucket=bucket, Key=key, Body=data)


def keys(moto_server: str, bucket: str, prefix: str) -> list[str]:
    pages = admin_client(moto_server).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_store_change_becomes_a_commit_within_the_interval_and_approved_push_lands(
    tmp_path: Path, start_daemon: Start, moto_server: str, bucket: str
) -> None:
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": f"s3://{bucket}", "interval": 1, "auto_push": True}])
    daemon = start_daemon(repo, env=daemon_env(moto_server))
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")
    mark = daemon.mark()

    key = f"{CLUSTER}/config"
    put(moto_server, bucket, key, get(moto_server, bucket, key) + b"# edited in the bucket\n")
    event = daemon.wait_event("the interval pull", after=mark, store="dev", action="pull",
                              result="changed")
    assert event["trigger"] == "interval" and event["objects_read"] == 1
    assert "# edited in the bucket" in (repo / "state" / key).read_text()

    mark = daemon.mark()
    (repo / "state" / key).write_text((repo / "state" / key).read_text() + "# approved\n")
    git(repo, "commit", "-q", "-am", "approved change")
    daemon.wait_event("the push", after=mark, store="dev", action="push", result="written")
    assert get(moto_server, bucket, key).endswith(b"# approved\n")


def test_store_down_and_back_retries_recovers_and_commits_once(
    tmp_path: Path, start_daemon: Start, moto_server: str, bucket: str,
    proxy: FailingProxyDouble,
) -> None:
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": f"s3://{bucket}", "interval": 1}])
    daemon = start_daemon(repo, env=daemon_env(proxy.url))
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")

    proxy.failures_left = -1  # the store goes down
    key = f"{CLUSTER}/config"
    put(moto_server, bucket, key, get(moto_server, bucket, key) + b"# changed during outage\n")
    mark = daemon.mark()
    first = daemon.wait_event("a failed pull", after=mark, store="dev", action="pull",
                              result="error")
    second = daemon.wait_event("a second failed pull", after=daemon.events().index(first) + 1,
                               store="dev", action="pull", result="error")
    assert first["kind"] == second["kind"] == "store-unavailable"
    assert second["retry_in"] > first["retry_in"]  # backing off
    assert len(pull_commits(repo, "dev")) == 1

    proxy.failures_left = 0  # and comes back
    mark = daemon.mark()
    daemon.wait_event("the recovery", after=mark, store="dev", action="pull", result="changed")
    after_recovery = daemon.mark()
    daemon.wait_event("a quiet pull after recovery", after=after_recovery, store="dev",
                      action="pull", result="unchanged")
    assert len(pull_commits(repo, "dev")) == 2  # the outage change, recorded exactly once
    assert "# changed during outage" in (repo / "state" / key).read_text()


def _many_objects_commit(repo: Path) -> list[str]:
    folder = repo / "state" / CLUSTER / "instancegroup"
    names = [f"bulk-{i:03d}" for i in range(MANY)]
    nodes = (folder / "nodes").read_text()  # valid groups: push runs the kops checks
    for name in names:
        (folder / name).write_text(nodes.replace("name: nodes", f"name: {name}"))
    git(repo, "add", "state")
    git(repo, "commit", "-q", "-m", f"{MANY} new instance groups")
    return [f"{CLUSTER}/instancegroup/{n}" for n in names]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_signal_in_the_middle_of_a_push_is_finished_by_the_next_start(
    tmp_path: Path, start_daemon: Start, moto_server: str, bucket: str, stop_signal: int
) -> None:
    repo = make_repo(tmp_path / "repo", [
        {"name": "dev", "state": f"s3://{bucket}", "interval": 3600, "auto_push": True,
         "max_delete": 0}])
    # A lease TTL longer than the test's deadline: only adopting the lock named by the
    # journal (not waiting for it to expire) lets the second start finish the push.
    args = ("--lease-ttl", "600")
    env = daemon_env(moto_server)
    daemon = start_daemon(repo, *args, env=env)
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")
    wanted = _many_objects_commit(repo)
    prefix = f"{CLUSTER}/instancegroup/bulk-"

    wait_for(lambda: keys(moto_server, bucket, prefix), "the first pushed object", timeout=60)
    daemon.send(stop_signal)
    written_when_stopped = len(keys(moto_server, bucket, prefix))
    code = daemon.wait_exit()
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    assert written_when_stopped < MANY  # the signal really came in the middle

    journal = repo / ".git" / "kops-gitsync" / "journal-dev.json"
    if stop_signal == signal.SIGKILL:
        assert journal.exists()  # the next start has something to finish

    again = start_daemon(repo, *args, env=env)
    again.wait_event("the next start's first turn", store="dev", action="pull")
    wait_for(lambda: not journal.exists(), "the journal to be finished")
    assert sorted(keys(moto_server, bucket, prefix)) == sorted(wanted)
    observed = git(repo, "log", "-1", "--format=%B", "refs/kops-gitsync/observed/dev")
    assert "Kops-Gitsync-Operation: push" in observed
    mark = again.mark()
    again.send(signal.SIGTERM)
    assert again.wait_exit() == 0
    assert not any(e.get("result") == "error" for e in again.events()[:mark])
    assert admin_client(moto_server).list_objects_v2(
        Bucket=bucket, Prefix=".kops-gitsync.lock").get("KeyCount") == 0
