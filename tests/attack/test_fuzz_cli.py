"""Issue 14: every command, fed hostile keys, bytes, locks, journals and configs, ends with
0, 1 or 2 and a message, never a traceback or a hang, and writes nothing outside the repo and
the store.

Each example builds its own repository and store (function-scoped fixtures are not reset
between examples), calls ``kops_gitsync.cli.main.main`` in-process, and is bounded by the
hypothesis deadline plus a hard faulthandler watchdog that ends the run on a hang.
"""

from __future__ import annotations

import faulthandler
import itertools
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.sync.lock import parse
from kops_gitsync.sync.policy import LOCK_KEY, Policy
from kops_gitsync.vfs import memfs
from kops_gitsync.vfs.base import Blob
from kops_gitsync.vfs.keys import key_problem
from tests.attack import strategies as S
from tests.attack.helpers import (
    CLUSTER,
    CONFIG,
    NODES,
    VALID_OBJECTS,
    Sandbox,
    assert_sane,
    cli,
    git,
    snapshot,
    write_store,
)

FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=60),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
    database=None,
    derandomize=False,
)
HANG_LIMIT = 180  # seconds for one example before the watchdog ends the whole run
_URLS = itertools.count()


@contextmanager
def example(tmp_path: Path, url: str | None = None) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    old_env = dict(os.environ)
    os.environ["HOME"] = str(box.root / "home")
    if url:
        os.environ["KOPS_STATE_STORE"] = url
    faulthandler.dump_traceback_later(HANG_LIMIT, exit=True)
    try:
        yield box
        box.assert_untouched()
    finally:
        faulthandler.cancel_dump_traceback_later()
        os.environ.clear()
        os.environ.update(old_env)
        box.cleanup()


def _seed_memfs(url: str, extra: dict[str, bytes]) -> None:
    tree = {key: Blob(data, f"v{n}") for n, (key, data) in enumerate(VALID_OBJECTS.items())}
    # Straight into the tree: a remote backend (S3, GCS) stores any key a writer sends, and
    # memfs' own write() would refuse these before pull ever saw them.
    for n, (key, data) in enumerate(extra.items()):
        tree[key] = Blob(data, f"h{n}")
    memfs._TREES[url] = tree


def _edit_and_commit(box: Sandbox) -> None:
    path = box.repo / "state" / NODES
    if path.is_file():
        path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 3"))
        git(box.repo, "commit", "-qam", "edit", check=False)


def _all_lines_prefixed(err: str) -> None:
    """A hostile key cannot forge an output line: every line says who wrote it (or is an
    indented continuation of a message)."""
    for line in err.splitlines():
        assert not line or line.startswith(("kops-gitsync", " ")), f"forged line: {line!r}"


@FUZZ
@given(keys=st.lists(S.store_keys(), min_size=1, max_size=4), data=S.object_bytes)
def test_hostile_keys_in_a_memfs_store(tmp_path: Path, keys: list[str], data: bytes) -> None:
    url = f"memfs://attack-keys-{next(_URLS)}"
    _seed_memfs(url, dict.fromkeys(keys, data))
    try:
        with example(tmp_path, url) as box:
            pull = cli("pull", "--state", url, cwd=box.repo)
            assert_sane(pull, "pull")
            _all_lines_prefixed(pull.err)
            # only keys pull mirrors are checked: the tool's own (.kops-gitsync*) and
            # secrets are never written to the working tree, whatever their names
            mirrors = Policy(StoreConfig()).mirrored
            bad = [k for k in keys if key_problem(k) is not None and mirrors(k)]
            if bad:
                assert pull.code == 1 and "cannot be mirrored safely" in pull.err, pull.err
                assert git(box.repo, "for-each-ref", "refs/kops-gitsync") == ""
            for verb in (["status"], ["push"], ["unlock"], ["hook", "validate"],
                         ["hook", "no-secrets"], ["hook", "no-derived-edits"]):
                assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
            _edit_and_commit(box)
            assert_sane(cli("push", cwd=box.repo), "push (dry)")
    finally:
        memfs.MemoryStore.reset(url)


@FUZZ
@given(names=st.lists(st.lists(S.fs_name, min_size=1, max_size=3), min_size=1, max_size=3))
def test_hostile_file_names_in_a_file_store(tmp_path: Path, names: list[list[bytes]]) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        for parts in names:
            where = os.fsencode(box.store / CLUSTER)
            for part in parts[:-1]:
                where = os.path.join(where, part)
                if os.path.isfile(where):
                    break
                os.makedirs(where, exist_ok=True)
            else:
                target = os.path.join(where, parts[-1])
                if not os.path.isdir(target):
                    with open(target, "wb") as handle:
                        handle.write(b"x: 1\n")
        before = snapshot(box.store)
        pull = cli("pull", "--state", f"file://{box.store}", cwd=box.repo)
        assert_sane(pull, "pull")
        _all_lines_prefixed(pull.err)
        for verb in (["status"], ["hook", "validate"], ["hook", "no-derived-edits"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        _edit_and_commit(box)
        assert_sane(cli("push", "--yes", cwd=box.repo), "push --yes")
        after = snapshot(box.store)
        # push may change the one edited object; nothing else in the store moves
        assert {k for k in before if before[k] != after.get(k)} <= {NODES}


@FUZZ
@given(data=S.object_bytes, where=st.sampled_from([CONFIG, NODES, f"{CLUSTER}/addons/x/y.yaml"]))
def test_hostile_object_bytes(tmp_path: Path, data: bytes, where: str) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        (box.store / where).parent.mkdir(parents=True, exist_ok=True)
        (box.store / where).write_bytes(data)
        pull = cli("pull", "--state", f"file://{box.store}", cwd=box.repo)
        assert_sane(pull, "pull")
        mirrored = box.repo / "state" / where
        if pull.code == 0 and mirrored.exists():
            assert mirrored.read_bytes() == data, "pull must mirror bytes, not re-serialise"
        files = [f"state/{CONFIG}", f"state/{NODES}"]
        for verb in (["hook", "validate", *files], ["hook", "no-secrets", *files],
                     ["hook", "no-derived-edits", *files], ["validate", *files],
                     ["status"], ["push"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        # the same bytes staged by a person instead of pulled
        target = box.repo / "state" / CONFIG
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        git(box.repo, "add", "-A")
        for verb in (["hook", "validate"], ["hook", "no-secrets"], ["hook", "no-derived-edits"],
                     ["hook", "protect-production"], ["hook", "validate-merge"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        git(box.repo, "commit", "-qm", "hostile", "--no-verify", check=False)
        push = cli("push", "--yes", cwd=box.repo)
        assert_sane(push, "push --yes")


@FUZZ
@given(lock=S.lock_bytes)
def test_hostile_lock_objects(tmp_path: Path, lock: bytes) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
        _edit_and_commit(box)
        (box.store / LOCK_KEY).write_bytes(lock)
        info, _problem = parse(lock)
        push = cli("push", "--yes", cwd=box.repo)
        assert_sane(push, "push --yes")
        if info is None or not info.expired:
            # unreadable or live: held. Nothing written, the lock left alone.
            assert push.code == 1 and "locked" in push.err, push.err
            assert (box.store / NODES).read_bytes() == VALID_OBJECTS[NODES]
            assert (box.store / LOCK_KEY).read_bytes() == lock
        for verb in (["status"], ["pull"], ["unlock"]):
            assert_sane(cli(*verb, cwd=box.repo), verb[0])
        removed = cli("unlock", "--yes", cwd=box.repo)
        assert_sane(removed, "unlock --yes")
        assert not (box.store / LOCK_KEY).exists(), removed.text


@FUZZ
@given(journal=S.journal_bytes)
def test_hostile_journals(tmp_path: Path, journal: bytes) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
        _edit_and_commit(box)
        before = snapshot(box.store)
        path = box.repo / ".git" / "kops-gitsync" / "journal-default.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(journal)
        for verb in (["status"], ["push"], ["pull"], ["push", "--yes"], ["unlock"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        after = snapshot(box.store)
        # a journal may only ever finish writes to the store's own objects
        assert set(after) - set(before) <= {NODES, CONFIG}, sorted(set(after) - set(before))


@FUZZ
@given(config=S.config_text)
def test_hostile_repo_config(tmp_path: Path, config: bytes) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        url = f"file://{box.store}"
        assert cli("pull", "--state", url, cwd=box.repo).code == 0
        (box.repo / ".kops-gitsync.yaml").write_bytes(config)
        git(box.repo, "add", "-A")
        for verb in (["status"], ["pull"], ["push"], ["unlock"], ["hook", "validate"],
                     ["hook", "no-secrets"], ["hook", "protect-production"],
                     ["hook", "no-derived-edits"], ["validate", f"state/{CONFIG}"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        git(box.repo, "commit", "-qm", "config", "--no-verify", check=False)
        for verb in (["pull", "--state", url], ["push", "--yes"],
                     ["hook", "protect-production", "--pre-push", "origin"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))


@pytest.mark.parametrize("args", [
    ["pull", "--state", "file://"], ["pull", "--state", "memfs://"], ["pull", "--state", "\x00"],
    ["pull", "--state", "bogus://x"], ["push", "--max-delete", "-1"], ["hook", ""],
    ["hook", "validate", "../../etc/passwd"], ["hook", "validate", "/etc/passwd"],
    ["unlock", "--store", "../x"], ["status", "--repo", "/nonexistent"],
])
def test_hostile_arguments(tmp_path: Path, args: list[str]) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        assert_sane(cli(*args, cwd=box.repo), " ".join(args))


def _hostile_observed_commit(repo: Path, state: bytes) -> None:
    """One more observed commit, as a crafted commit reaching the clone could carry it:
    same trailers, a sync state of the attacker's choosing."""
    ref = "refs/kops-gitsync/observed/default"
    tip = git(repo, "rev-parse", ref).strip()
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=state,
                          capture_output=True, check=True).stdout.decode().strip()
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "attack-index"))
    for args in (["read-tree", tip],
                 ["update-index", "--cacheinfo", f"100644,{blob},.kops-gitsync/default.json"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    os.unlink(env["GIT_INDEX_FILE"])
    message = git(repo, "log", "-1", "--format=%B", tip)
    commit = subprocess.run(["git", "commit-tree", tree, "-p", tip, "-m", message], cwd=repo,
                            check=True, capture_output=True, text=True).stdout.strip()
    git(repo, "update-ref", ref, commit, tip)


@FUZZ
@given(data=st.data())
def test_hostile_sync_state_on_the_observed_ref(tmp_path: Path, data: st.DataObject) -> None:
    with example(tmp_path) as box:
        write_store(box.store)
        url = f"file://{box.store}"
        assert cli("pull", "--state", url, cwd=box.repo).code == 0
        _edit_and_commit(box)
        before = snapshot(box.store)
        _hostile_observed_commit(box.repo, data.draw(S.sync_state_bytes(url), label="state"))
        for verb in (["status"], ["push"], ["push", "--yes"], ["pull"], ["status"],
                     ["push", "--yes"], ["unlock"]):
            assert_sane(cli(*verb, cwd=box.repo), " ".join(verb))
        after = snapshot(box.store)
        assert set(after) <= set(before), sorted(set(after) - set(before))
        assert {k for k in before if before[k] != after.get(k)} <= {NODES}, "store changed"
