"""Store content cannot forge or hide an output line: a key or a lock holder with a newline
or a terminal escape is shown escaped by status, push and unlock, as pull already does."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs import memfs
from kops_gitsync.vfs.base import Blob
from tests.attack.helpers import NODES, VALID_OBJECTS, Run, Sandbox, cli, git, write_store

FORGED = "\nkops-gitsync: store is clean, nothing to do\x1b[2J"


def clean(run: Run, what: str) -> None:
    assert "\x1b" not in run.text, f"{what}: a terminal escape reached the output"
    assert "\nkops-gitsync: store is clean" not in run.text, f"{what}: forged line\n{run.text}"


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path)
    write_store(box.store)
    return box


def test_a_lock_holder_with_a_newline_is_shown_escaped(box: Sandbox) -> None:
    assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
    path = box.repo / "state" / NODES
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 3"))
    git(box.repo, "commit", "-qam", "edit")
    lock = {"id": "x", "owner": "eve" + FORGED, "host": socket.gethostname() + FORGED,
            "pid": 1, "operation": "push" + FORGED, "created": time.time(),
            "expires": time.time() + 600}
    (box.store / LOCK_KEY).write_text(json.dumps(lock))
    for args in (["status"], ["push", "--yes"], ["unlock"], ["unlock", "--yes"]):
        clean(cli(*args, cwd=box.repo), " ".join(args))


def test_a_store_key_with_a_newline_is_shown_escaped_by_status(box: Sandbox) -> None:
    url = "memfs://forging-status"
    tree = {key: Blob(data, f"v{n}") for n, (key, data) in enumerate(VALID_OBJECTS.items())}
    tree[f"minimal-aws.example.com/addons/x{FORGED}"] = Blob(b"x", "bad")
    memfs._TREES[url] = tree
    try:
        for args in (["status", "--state", url], ["pull", "--state", url]):
            clean(cli(*args, cwd=box.repo), " ".join(args))
    finally:
        memfs.MemoryStore.reset(url)
