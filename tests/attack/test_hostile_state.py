"""Regressions found by the fuzz tests: a lock object or a push journal that json cannot
nest (``[[[[...``) or that holds the wrong JSON types must be a one-line error naming the
file, never a RecursionError or TypeError traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kops_gitsync.errors import FatalError
from kops_gitsync.sync.journal import Journal
from kops_gitsync.sync.lock import parse

DEEP = b"[" * 100_000


def test_a_deeply_nested_lock_object_is_unreadable_not_a_crash() -> None:
    info, problem = parse(DEEP)
    assert info is None and problem is not None and "JSON" in problem


@pytest.mark.parametrize("content", [
    DEEP,
    b'{"a":' * 50_000,
])
def test_a_deeply_nested_journal_is_damaged_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "journal-default.json"
    path.write_bytes(content)
    with pytest.raises(FatalError, match=r"journal .* is damaged"):
        Journal.load(path)


SHA = "a" * 40
GOOD = {"store": "default", "url": "file:///s", "source_commit": SHA, "branch": "main",
        "observed_tip": SHA, "lock_id": None, "entries": []}


@pytest.mark.parametrize("change", [
    {"source_commit": 5},  # crashed on source_commit[:12]
    {"source_commit": SHA + "\nKops-Gitsync-Operation: push"},  # a forged trailer
    {"branch": ["main"]},
    {"entries": [{"op": "create", "key": ["a"], "expect": None, "sha256": None,
                  "blob": SHA}]},  # a list as a store key
    {"entries": [{"op": "chmod", "key": "a", "expect": None, "sha256": None, "blob": None}]},
    {"entries": {"op": "delete"}},
    {"lock_id": True},
    {"extra": 1},
])
def test_a_journal_with_wrong_types_is_damaged(
    tmp_path: Path, change: dict[str, object]
) -> None:
    path = tmp_path / "journal-default.json"
    path.write_text(json.dumps(GOOD | change) + "\n")
    with pytest.raises(FatalError, match=r"journal .* is damaged"):
        Journal.load(path)


def test_an_applied_line_with_wrong_types_ends_the_applied_list(tmp_path: Path) -> None:
    path = tmp_path / "journal-default.json"
    good = {"key": "c/config", "op": "update", "version": "v", "size": 1, "sha256": "x",
            "blob": SHA}
    bad = good | {"key": ["unhashable"]}
    path.write_text("\n".join(json.dumps(x) for x in (GOOD, good, bad, good)) + "\n")
    journal = Journal.load(path)
    assert journal is not None and [a.key for a in journal.applied] == ["c/config"]


# A sync state reaches a clone in commits (every pull merges it into the branch), so what a
# crafted commit puts there is input, not a record this tool wrote.
def _state(objects: object, **extra: object) -> bytes:
    return json.dumps({"format": 1, "url": "file:///s", "objects": objects, **extra}).encode()


REC = {"version": "v", "size": 1, "sha256": "a" * 64}


@pytest.mark.parametrize("data", [
    b'{"format": 1, "url": "u", "objects": ' + b"[" * 50_000,  # RecursionError
    _state({"c/config": REC | {"size": float("inf")}}),  # OverflowError from int(inf)
    _state({"c/config": REC | {"size": -5}}),
    _state({"c/config": REC | {"version": ["v"]}}),
    _state({"../../sibling/precious": REC}),  # pull would delete "state/../../sibling/..."
    _state({"c/.git/config": REC}),
    _state({"c/config": REC}, withheld={"/etc/passwd": "v"}),
])
def test_a_hostile_sync_state_is_damaged_not_a_crash(data: bytes) -> None:
    from kops_gitsync.sync.syncstate import SyncState

    with pytest.raises(FatalError, match=r"sync state .* is damaged"):
        SyncState.from_bytes(data, "here")


def test_a_sync_state_this_tool_writes_still_loads() -> None:
    from kops_gitsync.sync.syncstate import Recorded, SyncState

    state = SyncState("file:///s", {"c/config": Recorded("v1", 10, "a" * 64)}, {"c/x": "v2"})
    assert SyncState.from_bytes(state.to_bytes(), "here") == state


def test_secret_scan_of_a_deeply_nested_kops_secret_json_is_not_a_crash() -> None:
    from kops_gitsync.secretscan import scan

    scan(b'{"Data": ' + b"[" * 100_000)  # raised RecursionError in pull's reader threads


def test_pull_of_a_store_object_nested_too_deep(tmp_path: Path) -> None:
    from tests.attack.helpers import CLUSTER, Sandbox, assert_sane, cli, write_store

    box = Sandbox(tmp_path)
    write_store(box.store)
    (box.store / CLUSTER / "secrets").mkdir()
    (box.store / CLUSTER / "secrets" / "admin").write_bytes(b'{"Data": ' + b"[" * 100_000)
    (box.store / CLUSTER / "odd.json").write_bytes(b'{"Data": ' + b"[" * 100_000)
    run = cli("pull", "--state", f"file://{box.store}", cwd=box.repo)
    assert_sane(run, "pull")
    assert run.code == 0, run.err


def test_a_deeply_nested_sync_state_in_head_does_not_crash_the_hooks(tmp_path: Path) -> None:
    """config/pinning.py reads HEAD's sync state for every command and hook."""
    from tests.attack.helpers import Sandbox, assert_sane, cli, git, write_store

    box = Sandbox(tmp_path)
    write_store(box.store)
    assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
    (box.repo / ".kops-gitsync" / "default.json").write_bytes(
        b'{"format": 1, "objects": ' + b"[" * 100_000)
    # a store without `path:` makes every command check where its mirror is (pinning.py)
    (box.repo / ".kops-gitsync.yaml").write_text(f"stores:\n- name: default\n"
                                                 f"  state: file://{box.store}\n")
    git(box.repo, "add", "-A")
    git(box.repo, "commit", "-qm", "crafted", "--no-verify")
    for args in (["status"], ["hook", "validate"], ["hook", "protect-production"],
                 ["hook", "no-secrets"], ["pull"]):
        assert_sane(cli(*args, cwd=box.repo), " ".join(args))


@pytest.mark.parametrize("name", ["hook-config-cache.json", "daemon-state"])
def test_deeply_nested_local_state_files_are_ignored(tmp_path: Path, name: str) -> None:
    """The hooks' config cache and the daemon's state file are advisory: damaged, they are
    rebuilt or left out, never a traceback."""
    from kops_gitsync.daemon.state import FILE_NAME
    from tests.attack.helpers import Sandbox, assert_sane, cli, git, write_store

    box = Sandbox(tmp_path)
    write_store(box.store)
    assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
    (box.repo / ".kops-gitsync.yaml").write_text(f"stores:\n- name: default\n  path: state\n"
                                                 f"  state: file://{box.store}\n")
    git(box.repo, "add", ".kops-gitsync.yaml")
    target = box.repo / ".git" / "kops-gitsync" / (FILE_NAME if name == "daemon-state" else name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"[" * 100_000)
    for args in (["status"], ["hook", "validate"], ["hook", "no-secrets"]):
        assert_sane(cli(*args, cwd=box.repo), " ".join(args))
