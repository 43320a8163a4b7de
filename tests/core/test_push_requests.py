"""The requests one ``push --yes`` sends to an S3 store (moto), counted by the store itself.

With the capability cache warm, a push of k objects costs: one LIST (the live listing the
three-way plan needs), the lock's create and delete, k conditional PUTs, and the lock
checks that fence them (k with one writer, fewer when parallel writers share a read). No
conditional-write probe, no GetBucketEncryption, no read-back of the lock (moto enforces
If-None-Match, so the create alone decides who holds it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.push import push
from kops_gitsync.vfs.capcache import REFRESH_VAR
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import Run, git
from tests.core.test_push_parallel import many_changes
from tests.servers.s3 import admin_client, new_bucket, s3_env

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_pulled(
    repo: Path, moto_server: str, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A review repo that pulled a moto bucket holding minimal-aws (conditionals probed)."""
    bucket = new_bucket(moto_server)
    client = admin_client(moto_server)
    root = FIXTURE_STORES / "minimal-aws"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        client.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(),
                          Body=path.read_bytes())
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{bucket}")
    assert cli("pull", cwd=repo).code == 0
    return repo


def counted_push(repo: Path, **env: str) -> dict[str, int]:
    [ctx] = open_contexts(repo, None, None, {**os.environ, **env})
    try:
        push(ctx, apply=True)
        return dict(ctx.store.request_counts)  # type: ignore[attr-defined]
    finally:
        ctx.close()


def test_a_push_with_a_warm_cache_sends_only_the_requests_it_needs(
    s3_pulled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = s3_pulled
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", "1")
    many_changes(repo, 2)
    cold = counted_push(repo)
    # The first push asks: 5 probe requests (3 PUT, 2 DELETE) and GetBucketEncryption.
    assert cold == {"LIST": 1, "PUT": 2 + 1 + 3, "DELETE": 1 + 2, "GET": 2, "OTHER": 1}

    (repo / "state/minimal-aws.example.com/config").write_text(
        (repo / "state/minimal-aws.example.com/config").read_text() + "# one more\n")
    git(repo, "commit", "-qam", "config edit")
    warm = counted_push(repo)
    # 1 LIST + lock create and delete + 1 PUT and its lock check: 3 fixed requests.
    assert warm == {"LIST": 1, "PUT": 1 + 1, "DELETE": 1, "GET": 1}

    (repo / "state/minimal-aws.example.com/config").write_text(
        (repo / "state/minimal-aws.example.com/config").read_text() + "# and one more\n")
    git(repo, "commit", "-qam", "config edit again")
    refreshed = counted_push(repo, **{REFRESH_VAR: "1"})
    assert refreshed == {"LIST": 1, "PUT": 1 + 1 + 3, "DELETE": 1 + 2, "GET": 1, "OTHER": 1}


def test_parallel_writers_share_their_lock_checks(
    s3_pulled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = s3_pulled
    monkeypatch.setenv("KOPS_GITSYNC_PUSH_WORKERS", "8")
    many_changes(repo, 1)
    counted_push(repo)  # warms the cache
    many_changes_again = 40
    folder = repo / "state/minimal-aws.example.com/instancegroup"
    nodes = (folder / "nodes").read_text()
    for i in range(many_changes_again):
        (folder / f"more-{i:03d}").write_text(nodes.replace("name: nodes", f"name: more-{i:03d}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "forty more")
    counts = counted_push(repo)
    assert counts["PUT"] == many_changes_again + 1 and counts["DELETE"] == 1
    assert counts["LIST"] == 1 and "OTHER" not in counts and "HEAD" not in counts
    assert 1 <= counts["GET"] < many_changes_again  # shared reads, each begun after its ask
