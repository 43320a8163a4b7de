"""End to end on a real OpenStack Swift: a fixture store uploaded with python-swiftclient,
pulled with the CLI, one InstanceGroup edited in git, pushed with ``--yes``, and the container
read back with python-swiftclient (not through our store): exactly that object changed, its
ETag is the MD5 of the new bytes, and no lock object is left behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.sync.pull import pull
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import git, repo, snapshot
from tests.servers.swift import SwiftCluster, new_container, swift_env

__all__ = ["repo"]  # the review-repository fixture, shared with tests/core

CLUSTER = "minimal-aws.example.com"
NODES = f"{CLUSTER}/instancegroup/nodes"


def container_objects(connection: object, container: str, root: str) -> dict[str, bytes]:
    _headers, listing = connection.get_container(  # type: ignore[attr-defined]
        container, prefix=root, full_listing=True
    )
    return {
        entry["name"][len(root):]: connection.get_object(container, entry["name"])[1]  # type: ignore[attr-defined]
        for entry in listing
    }


def cli(repo: Path, verb: str, *args: str) -> int:
    return main([verb, "--repo", str(repo), *args])


@pytest.mark.parametrize("root", ["", "kops/state/"])
def test_pull_edit_push_read_back(
    root: str, swift_cluster: SwiftCluster, repo: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import swiftclient

    connection = swiftclient.Connection(
        preauthurl=swift_cluster.storage_url, preauthtoken="unused", retries=0
    )
    container = new_container(swift_cluster)
    original = snapshot(FIXTURE_STORES / "minimal-aws")
    for key, data in original.items():
        connection.put_object(container, root + key, data)
    for name, value in swift_env(swift_cluster).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"swift://{container}/{root}")

    assert cli(repo, "pull") == 0
    mirrored = repo / "state" / NODES
    assert mirrored.read_bytes() == original[NODES]

    text = mirrored.read_text()
    assert "maxSize: 2" in text
    mirrored.write_text(text.replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "nodes: allow five")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err

    after = container_objects(connection, container, root)
    changed = {k for k in set(original) | set(after) if original.get(k) != after.get(k)}
    assert changed == {NODES}
    assert b"maxSize: 5" in after[NODES]
    assert LOCK_KEY not in after
    head = connection.head_object(container, root + NODES)
    assert head["etag"] == hashlib.md5(after[NODES]).hexdigest()
    connection.close()

    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out

    # A no-op pull costs the listing page and nothing else: no GET, no HEAD.
    (context,) = open_contexts(repo, None, None, dict(os.environ))
    try:
        assert pull(context).observed_commit is None
        counts = context.store.request_counts  # type: ignore[attr-defined]
        assert counts == {"LIST": 1}  # a no-op pull: one listing page, nothing else
    finally:
        context.close()
