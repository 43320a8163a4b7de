"""``kops-gitsync daemon`` as a subprocess against a file:// store: events, pushes, approval,
signals, reload, two daemons, sd_notify and metrics."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from tests.daemon.conftest import (
    CLUSTER,
    DaemonProc,
    copy_fixture_store,
    git,
    make_repo,
    pull_commits,
    wait_for,
    yaml_config,
)

pytestmark = pytest.mark.slow

Start = Callable[..., DaemonProc]


def store_config(store: Path, **extra: object) -> dict[str, object]:
    return {"name": "dev", "state": f"file://{store}", **extra}


def store_and_remote(tmp_path: Path, *clones: str) -> tuple[Path, Path]:
    """An auto_push file:// store, a bare remote holding its config, and ``clones`` of it."""
    store = copy_fixture_store(tmp_path / "store")
    seed = make_repo(tmp_path / "seed", [store_config(store, interval=3600, auto_push=True)])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    for name in clones:
        git(tmp_path, "clone", "-q", str(origin), name)
    return store, origin


def first_pull(daemon: DaemonProc) -> None:
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")


def test_file_store_change_is_committed_on_the_event_not_the_interval(
    tmp_path: Path, start_daemon: Start
) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    assert len(pull_commits(repo, "dev")) == 1
    mark = daemon.mark()

    (store / CLUSTER / "config").write_text(
        (store / CLUSTER / "config").read_text() + "# edited by kops\n")

    event = daemon.wait_event("a pull triggered by the file event", after=mark,
                              store="dev", action="pull", result="changed")
    assert event["trigger"] == "store changed"  # not the (hour-long) interval
    assert len(pull_commits(repo, "dev")) == 2
    assert "# edited by kops" in (repo / "state" / CLUSTER / "config").read_text()
    assert git(repo, "status", "--porcelain") == ""


def test_approved_commit_lands_in_the_store_and_unapproved_one_does_not(
    tmp_path: Path, start_daemon: Start
) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600, auto_push=True)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    config = Path("state") / CLUSTER / "config"

    # Unapproved: a feature branch, committed in a second worktree (a ref move the daemon sees).
    feature = tmp_path / "feature"
    git(repo, "worktree", "add", "-q", "-b", "feature/x", str(feature))
    (feature / config).write_text((feature / config).read_text() + "# unapproved\n")
    git(feature, "commit", "-q", "-am", "unapproved change")
    mark = daemon.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")  # a full turn after it
    daemon.wait_event("a pull after the feature commit", after=mark, store="dev",
                      action="pull", result="changed")
    assert "# unapproved" not in (store / CLUSTER / "config").read_text()

    # Approved: the same change merged into main.
    mark = daemon.mark()
    git(repo, "merge", "-q", "--no-edit", "feature/x")
    event = daemon.wait_event("the approved push", after=mark,
                              store="dev", action="push", result="written")
    assert event["objects_written"] == 1 and event["branch"] == "main"
    assert "# unapproved" in (store / CLUSTER / "config").read_text()


def test_store_without_auto_push_is_never_written(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    config = repo / "state" / CLUSTER / "config"
    config.write_text(config.read_text() + "# approved but not auto_push\n")
    git(repo, "commit", "-q", "-am", "approved change")
    mark = daemon.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")  # wake it up
    daemon.wait_event("a pull after the commit", after=mark, store="dev", action="pull",
                      result="changed")
    assert "# approved but not auto_push" not in (store / CLUSTER / "config").read_text()
    assert not any(e.get("action") == "push" for e in daemon.events())
    assert not (store / LOCK_KEY).exists()  # a pull-only daemon takes no lease


def test_uncommitted_work_is_never_merged_into(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    head = git(repo, "rev-parse", "HEAD")
    (repo / "notes.txt").write_text("work in progress\n")
    mark = daemon.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")
    event = daemon.wait_event("the pull with work in progress", after=mark,
                              store="dev", action="pull", result="changed")
    assert event["merged"] is False and "uncommitted" in event["merge_deferred"]
    assert git(repo, "rev-parse", "HEAD") == head  # the branch did not move
    assert len(pull_commits(repo, "dev")) == 2  # but the store state is recorded

    (repo / "notes.txt").unlink()
    mark = daemon.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.1\n")
    event = daemon.wait_event("the pull once the tree is clean", after=mark,
                              store="dev", action="pull", result="changed")
    assert event["merged"] is True
    assert (repo / "state" / CLUSTER / "kops-version.txt").read_text() == "1.31.1\n"


def test_sigterm_exits_zero_and_releases_the_lease(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600, auto_push=True)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    assert (store / LOCK_KEY).exists()
    daemon.send(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert not (store / LOCK_KEY).exists()
    state = json.loads((repo / ".git" / "kops-gitsync" / "daemon-state.json").read_text())
    assert state["activity"] == "stopped" and state["stores"]["dev"]["lease"] == "released"


def test_sighup_with_a_broken_config_keeps_the_old_one(
    tmp_path: Path, start_daemon: Start
) -> None:
    store = copy_fixture_store(tmp_path / "store")
    other = copy_fixture_store(tmp_path / "other", "ha")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600, auto_push=True)])
    daemon = start_daemon(repo)
    first_pull(daemon)
    lease_id = json.loads((store / LOCK_KEY).read_text())["id"]

    (repo / ".kops-gitsync.yaml").write_text("stores:\n  - name: dev\n    intervall: 5\n")
    mark = daemon.mark()
    daemon.send(signal.SIGHUP)
    rejected = daemon.wait_event("the rejected reload", after=mark, action="reload")
    assert rejected["result"] == "rejected" and "intervall" in rejected["error"]
    state = json.loads((repo / ".git" / "kops-gitsync" / "daemon-state.json").read_text())
    assert "intervall" in state["config_error"]

    mark = daemon.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")
    daemon.wait_event("the old config still at work", after=mark, store="dev",
                      action="pull", result="changed")

    (repo / ".kops-gitsync.yaml").write_text(yaml_config([
        {"name": "dev", "state": f"file://{store}", "path": "state", "interval": 3600,
         "auto_push": True},
        {"name": "ha", "state": f"file://{other}", "path": "state-ha", "interval": 3600},
    ]))
    mark = daemon.mark()
    daemon.send(signal.SIGHUP)
    daemon.wait_event("the good reload", after=mark, action="reload", result="ok")
    daemon.wait_event("the new store's first pull", after=mark, store="ha", action="pull",
                      result="changed")
    assert daemon.proc.poll() is None
    assert json.loads((store / LOCK_KEY).read_text())["id"] == lease_id  # kept across reloads


def test_two_daemons_one_writer_and_takeover(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    config = [store_config(store, interval=3600, auto_push=True)]
    repo_a = make_repo(tmp_path / "a", config)
    repo_b = make_repo(tmp_path / "b", config)
    a = start_daemon(repo_a, "--lease-ttl", "4", name="a")
    first_pull(a)
    b = start_daemon(repo_b, "--lease-ttl", "4", name="b")
    b.wait_event("b to start", action="start")
    mark_b = b.mark()

    def holder_pid() -> int:
        return int(json.loads((store / LOCK_KEY).read_text())["pid"])

    # A change in the store while both run: only the lease holder acts on it.
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")
    a.wait_event("a to pull the change", store="dev", action="pull", result="changed",
                 trigger="store changed")
    assert holder_pid() == a.pid
    assert not [e for e in b.events()[mark_b:] if e.get("action") in ("pull", "push")]
    assert git(repo_b, "for-each-ref", "refs/kops-gitsync/") == ""  # b never pulled

    a.send(signal.SIGKILL)
    a.wait_exit()
    b.wait_event("b to take the lease over", store="dev", action="lease", result="held")
    b.wait_event("b's first pull", store="dev", action="pull", result="changed")
    assert holder_pid() == b.pid

    edited = repo_b / "state" / CLUSTER / "config"
    edited.write_text(edited.read_text() + "# pushed by b\n")
    mark = b.mark()
    git(repo_b, "commit", "-q", "-am", "change approved in b")
    b.wait_event("b's push", after=mark, store="dev", action="push", result="written")
    assert "# pushed by b" in (store / CLUSTER / "config").read_text()


def test_ready_status_and_watchdog_reach_systemd(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600)])
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    try:
        daemon = start_daemon(repo, env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        messages: list[str] = []
        while not ("WATCHDOG=1" in messages and any(m.startswith("READY=1") for m in messages)):
            messages.append(sock.recv(4096).decode())
        ready = next(m for m in messages if m.startswith("READY=1")).splitlines()
        assert f"MAINPID={daemon.pid}" in ready
        assert "STATUS=1 stores" in ready
        daemon.send(signal.SIGTERM)
        while not messages[-1].startswith("STOPPING=1"):
            messages.append(sock.recv(4096).decode())
        assert daemon.wait_exit() == 0
    finally:
        sock.close()


def test_metrics_endpoint_reports_the_running_daemon(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600, auto_push=True)])
    daemon = start_daemon(repo, "--metrics-port", "0")
    address = daemon.wait_event("the metrics endpoint", action="metrics")["address"]
    assert address.startswith("127.0.0.1:")
    first_pull(daemon)
    daemon.wait_event("the first push check", store="dev", action="push")

    def scrape() -> str | None:
        text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
        return text if 'kops_gitsync_drift_objects{store="dev"}' in text else None

    text = wait_for(scrape, "the drift gauge")
    assert 'kops_gitsync_last_pull_success_timestamp_seconds{store="dev"}' in text
    assert 'kops_gitsync_lease_held{store="dev"} 1.0' in text
    assert 'kops_gitsync_drift_objects{store="dev"} 0.0' in text


def test_bad_config_at_start_is_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"name": "dev", "state": "nope://x"}])
    done = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo), "--once"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "unknown state store scheme 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_approval_on_the_remote_is_fetched_and_pushed_and_drift_is_published(
    tmp_path: Path, start_daemon: Start
) -> None:
    store, origin = store_and_remote(tmp_path, "daemon")
    daemon = start_daemon(tmp_path / "daemon", "--fetch-interval", "1", "--push-remote")
    first_pull(daemon)
    daemon.wait_event("the mirror published to the remote", action="publish", result="pushed")
    assert "refs/kops-gitsync/observed/dev" in git(origin, "for-each-ref")

    # Store drift reaches the remote as commits.
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")
    wait_for(lambda: git(origin, "show", f"main:state/{CLUSTER}/kops-version.txt") == "1.31.0\n",
             "the drift published on the remote's main")

    # An approval merged on the remote lands in the store.
    git(tmp_path, "clone", "-q", str(origin), "approver")
    approver = tmp_path / "approver"
    edited = approver / "state" / CLUSTER / "config"
    edited.write_text(edited.read_text() + "# approved on the remote\n")
    git(approver, "commit", "-q", "-am", "reviewed and merged")
    mark = daemon.mark()
    git(approver, "push", "-q", "origin", "main")
    daemon.wait_event("the fetch", after=mark, action="fetch", result="merged")
    daemon.wait_event("the push", after=mark, store="dev", action="push", result="written")
    assert "# approved on the remote" in (store / CLUSTER / "config").read_text()


def test_high_availability_pair_shares_one_history_through_the_remote(
    tmp_path: Path, start_daemon: Start
) -> None:
    store, origin = store_and_remote(tmp_path, "a", "b")
    args = ("--fetch-interval", "1", "--push-remote", "--lease-ttl", "4")
    a = start_daemon(tmp_path / "a", *args, name="a")
    first_pull(a)
    a.wait_event("a publishing", action="publish", result="pushed")
    published = git(origin, "rev-parse", "refs/kops-gitsync/observed/dev").strip()
    b = start_daemon(tmp_path / "b", *args, name="b")
    wait_for(lambda: git(tmp_path / "b", "for-each-ref", "--format=%(objectname)",
                         "refs/kops-gitsync/observed/dev").strip() == published,
             "the standby to adopt the holder's observed state")

    a.send(signal.SIGKILL)
    a.wait_exit()
    b.wait_event("b taking over", store="dev", action="lease", result="held")
    mark = b.mark()
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")
    b.wait_event("b's pull", after=mark, store="dev", action="pull", result="changed")
    b.wait_event("b publishing", after=mark, action="publish", result="pushed")
    parent = git(origin, "rev-parse", "refs/kops-gitsync/observed/dev^").strip()
    assert parent == published  # b continued a's history, the remote took it as is
    assert not [e for e in b.events() if e.get("action") == "publish" and e["result"] != "pushed"]


def test_a_daemon_whose_lease_is_taken_stops_writing(tmp_path: Path, start_daemon: Start) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, interval=3600, auto_push=True)])
    daemon = start_daemon(repo, "--lease-ttl", "4")
    first_pull(daemon)
    daemon.wait_event("the first push check", store="dev", action="push")

    # An operator removed the lock and another writer took the store.
    rival = json.loads((store / LOCK_KEY).read_text())
    rival.update(id="rival", host="elsewhere", pid=1, expires=rival["expires"] + 3600)
    (store / LOCK_KEY).write_text(json.dumps(rival))
    daemon.wait_event("the daemon noticing", store="dev", action="lease", result="standby")

    edited = repo / "state" / CLUSTER / "config"
    edited.write_text(edited.read_text() + "# must not be pushed\n")  # (yet)
    mark = daemon.mark()
    git(repo, "commit", "-q", "-am", "approved, but this daemon no longer holds the store")
    (store / CLUSTER / "kops-version.txt").write_text("1.31.0\n")  # and a store event
    wait_for(lambda: json.loads(
        (repo / ".git" / "kops-gitsync" / "daemon-state.json").read_text()
    )["stores"]["dev"]["lease"] == "standby", "the state file to say standby")
    time.sleep(2)  # several turns' worth: none of them may write
    assert "# must not be pushed" not in (store / CLUSTER / "config").read_text()
    assert not [e for e in daemon.events()[mark:] if e.get("action") in ("pull", "push")]
    assert json.loads((store / LOCK_KEY).read_text())["id"] == "rival"

    # The rival goes away: the same daemon takes the store back and catches up.
    (store / LOCK_KEY).unlink()
    daemon.wait_event("the lease back", after=mark, store="dev", action="lease", result="held")
    daemon.wait_event("the held-back push", after=mark, store="dev", action="push",
                      result="written")
    assert "# must not be pushed" in (store / CLUSTER / "config").read_text()


def test_once_runs_every_store_one_turn_and_exits(tmp_path: Path) -> None:
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [store_config(store, auto_push=True)])
    done = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo), "--once",
         "--log-format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    actions = [json.loads(line)["action"] for line in done.stderr.splitlines()]
    assert actions == ["lease", "start", "pull", "push", "stop"]
    assert len(pull_commits(repo, "dev")) == 1
    assert not (store / LOCK_KEY).exists()
