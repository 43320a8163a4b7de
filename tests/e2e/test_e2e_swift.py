"""End to end on a real OpenStack Swift: a fixture store uploaded with python-swiftclient,
pulled with the CLI, one InstanceGroup edited in git, pushed with ``--yes``, and the container
read back with python-swiftclient (not through our store): exactly that object changed, its
ETag is the MD5 of the new bytes, and no lock object is left behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_STORES
from tests.core.conftest import repo, snapshot
from tests.e2e.steps import (
    NODES,
    assert_next_pull_is_up_to_date,
    assert_noop_pull_lists_once,
    assert_only_the_edit_landed,
    pull_edit_push,
)
from tests.servers.swift import SwiftCluster, new_container, swift_env

__all__ = ["repo"]  # the review-repository fixture, shared with tests/core


def container_objects(connection: object, container: str, root: str) -> dict[str, bytes]:
    _headers, listing = connection.get_container(  # type: ignore[attr-defined]
        container, prefix=root, full_listing=True
    )
    return {
        entry["name"][len(root) :]: connection.get_object(container, entry["name"])[1]  # type: ignore[attr-defined]
        for entry in listing
    }


@pytest.mark.parametrize("root", ["", "kops/state/"])
def test_pull_edit_push_read_back(
    root: str,
    swift_cluster: SwiftCluster,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
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

    pull_edit_push(repo, original, capsys)

    after = container_objects(connection, container, root)
    assert_only_the_edit_landed(original, after)
    head = connection.head_object(container, root + NODES)
    assert head["etag"] == hashlib.md5(after[NODES]).hexdigest()
    connection.close()

    assert_next_pull_is_up_to_date(repo, capsys)
    assert_noop_pull_lists_once(repo)
