"""``kops-gitsync log KEY``: the observed changes of one object, newest first, and who wrote
the live object last, on file:// (which keeps no metadata, and says so) and on moto S3
(where a push's ``kops-gitsync-commit``/``-branch`` metadata reads back, and a foreign write
drops it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.conftest import Run, cli, git, make_store, pulled, repo
from tests.e2e.steps import NODES
from tests.servers.s3 import admin_client, new_bucket, s3_env

__all__ = ["cli", "make_store", "pulled", "repo"]


def _edit_commit(repo: Path, old: str, new: str, message: str) -> str:
    path = repo / "state" / NODES
    path.write_text(path.read_text().replace(old, new))
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_file_store_history_and_no_metadata(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    pushed = _edit_commit(repo, "maxSize: 2", "maxSize: 5", "nodes: five")
    assert cli("push", "--yes", cwd=repo).code == 0
    # someone else (kops edit) changes it in the store, and a pull sees it
    target = store / NODES
    target.write_text(target.read_text().replace("maxSize: 5", "maxSize: 7"))
    assert cli("pull", cwd=repo).code == 0

    run = cli("log", NODES, cwd=repo)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].endswith(f": {NODES}")
    changes = [line for line in lines[1:] if not line.startswith("  now:")]
    assert len(changes) == 3, run.out
    assert "pull  changed in the store (store version" in changes[0]
    assert f"push  changed: pushed from main at {pushed}" in changes[1]
    assert "pull  created in the store" in changes[2]
    assert "last writer unknown: file:// keeps no object metadata" in lines[-1]

    # the mirror path works too, -n limits, and a bad key is one line
    newest = cli("log", f"state/{NODES}", "-n", "1", cwd=repo).out.splitlines()
    assert newest[1] == changes[0] and "the newest 1; -n N for more" in newest[2]
    bad = cli("log", "../etc/passwd", cwd=repo)
    assert bad.code == 1 and bad.err.count("\n") == 1 and "not a store key" in bad.err


def test_s3_metadata_round_trip(
    moto_server: str, repo: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.test_e2e_s3 import fixture_objects

    client = admin_client(moto_server)
    bucket = new_bucket(moto_server)
    for key, data in fixture_objects("minimal-aws").items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{bucket}")
    assert cli("pull", cwd=repo).code == 0
    before = cli("log", NODES, cwd=repo).out
    assert "last written by something else (no kops-gitsync metadata" in before

    pushed = _edit_commit(repo, "maxSize: 2", "maxSize: 5", "nodes: five")
    assert cli("push", "--yes", cwd=repo).code == 0
    run = cli("log", NODES, cwd=repo)
    assert f"push  changed: pushed from main at {pushed}" in run.out
    assert f"now: last written by kops-gitsync from main at {pushed}" in run.out

    body = client.get_object(Bucket=bucket, Key=NODES)["Body"].read()
    client.put_object(Bucket=bucket, Key=NODES, Body=body + b"\n")  # kops replace, say
    after = cli("log", NODES, cwd=repo).out
    assert "now: last written by something else (no kops-gitsync metadata" in after
    # status names the last writer of what the store has that git lacks (one stat each)
    status = cli("status", cwd=repo).out
    assert f"store ahead: 1 object(s) not pulled yet: {NODES}" in status
    assert f"  {NODES}: last written by something else (no kops-gitsync metadata" in status
    # at most five stats, however much the store is ahead
    for key in [k for k in fixture_objects("minimal-aws") if k != NODES][:6]:
        client.put_object(Bucket=bucket, Key=key, Body=b"x: 1\n")
    status = cli("status", cwd=repo).out
    assert status.count(": last written by ") == 5
    assert "(last writer of the first 5 only; kops-gitsync log KEY for others)" in status


def test_status_no_last_writer_on_file(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    (store / NODES).write_text("changed outside\n")
    status = cli("status", cwd=repo).out
    assert "store ahead: 1" in status and "last writ" not in status  # file://: no stat at all
