"""``kops-gitsync migrate`` between real stores: moto S3 buckets and local folders.

Two kops fixture clusters (minimal-aws, ha) are put in the source with their configBase
pointing at it, as kops itself writes them. Each test reads both sides back with the
scheme's own client (boto3, the file system), never through kops-gitsync.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.backup.migrate import MANIFEST_KEY, apply_migration, plan_migration, verify
from kops_gitsync.errors import FatalError
from kops_gitsync.sync.policy import LOCK_KEY
from kops_gitsync.vfs.guarded import GuardedStore
from kops_gitsync.vfs.registry import open_store
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import Run, cli, make_store, snapshot
from tests.servers.s3 import admin_client, new_bucket, s3_env

__all__ = ["cli", "make_store"]

AWS = "minimal-aws.example.com"
HA = "ha.example.com"
SECRET = f"{AWS}/pki/private/kubernetes-ca/keyset.yaml"


def kops_objects(store_url: str) -> dict[str, bytes]:
    """minimal-aws and ha as kops writes them into ``store_url`` (configBase included)."""
    objects: dict[str, bytes] = {}
    for name in ("minimal-aws", "ha"):
        root = FIXTURE_STORES / name
        for path in sorted(root.rglob("*")):
            if path.is_file():
                data = re.sub(rb"memfs://[a-z.]+", store_url.encode(), path.read_bytes())
                objects[path.relative_to(root).as_posix()] = data
    return objects


def bucket_objects(client: Any, bucket: str) -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
    return found


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on").items():
        monkeypatch.setenv(name, value)
    return admin_client(moto_server)


def s3_source(s3: Any, moto_server: str, extra: Callable[[bytes], bytes] = lambda d: d
              ) -> tuple[str, dict[str, bytes]]:
    bucket = new_bucket(moto_server)
    objects = kops_objects(f"s3://{bucket}")
    objects[f"{AWS}/config"] = extra(objects[f"{AWS}/config"])
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    return bucket, objects


def assert_migrated(before: dict[str, bytes], after: dict[str, bytes], old: str, new: str,
                    clusters: tuple[str, ...] = (AWS, HA)) -> None:
    """Every object byte-equal but the configs, which differ in the configBase line only."""
    expected = {k: v for k, v in before.items() if k.split("/", 1)[0] in clusters}
    assert set(after) - {MANIFEST_KEY} == set(expected)
    assert LOCK_KEY not in after
    for key, data in expected.items():
        if key.endswith("/config"):
            cluster = key.split("/", 1)[0]
            old_lines, new_lines = data.splitlines(), after[key].splitlines()
            changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
            assert changed == [(f"  configBase: {old}/{cluster}".encode(),
                                f"  configBase: {new}/{cluster}".encode())], key
        else:
            assert after[key] == data, key
    secrets = [k for k in expected if "/pki/private/" in k]
    assert secrets and all(after[k] == before[k] for k in secrets)
    assert any(b"privateMaterial" in after[k] for k in secrets)


def test_s3_to_file(s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]) -> None:
    bucket, objects = s3_source(s3, moto_server)
    target = tmp_path / "new-store"
    dry = cli("migrate", "--from", f"s3://{bucket}", "--to", str(target), cwd=tmp_path)
    assert dry.code == 0, dry.err
    assert "dry run" in dry.out and f"create {len(objects)}," in dry.out
    assert not target.exists() or not snapshot(target)
    run = cli("migrate", "--from", f"s3://{bucket}", "--to", str(target), "--yes", cwd=tmp_path)
    assert run.code == 0, run.err
    assert_migrated(objects, snapshot(target), f"s3://{bucket}", f"file://{target}")
    assert bucket_objects(s3, bucket) == objects  # the source is untouched
    assert "verified" in run.out
    assert f"kops update cluster --name {AWS} --state {target} --yes" in run.out
    assert f"export KOPS_STATE_STORE={target}" in run.out
    again = cli("migrate", "--from", f"s3://{bucket}", "--to", str(target), "--yes",
                cwd=tmp_path)  # idempotent: everything is already there
    assert again.code == 0 and f"already there {len(objects)}," in again.out, again.err


def test_file_to_s3_one_cluster(
    s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    source = tmp_path / "old-store"
    objects = kops_objects(f"file://{source}")
    for key, data in objects.items():
        (source / key).parent.mkdir(parents=True, exist_ok=True)
        (source / key).write_bytes(data)
    bucket = new_bucket(moto_server)
    run = cli("migrate", "--from", f"file://{source}", "--to", f"s3://{bucket}/kops",
              "--cluster", HA, "--yes", cwd=tmp_path)
    assert run.code == 0, run.err
    after = {k[len("kops/"):]: v for k, v in bucket_objects(s3, bucket).items()}
    assert_migrated(objects, after, f"file://{source}", f"s3://{bucket}/kops", clusters=(HA,))
    assert snapshot(source) == objects
    missing = cli("migrate", "--from", f"file://{source}", "--to", f"s3://{bucket}/kops",
                  "--cluster", "nope.example.com", cwd=tmp_path)
    assert missing.code == 1 and "holds no cluster nope.example.com" in missing.err
    assert f"it holds: {HA}, {AWS}" in missing.err


def test_s3_to_s3_warns_about_other_fields(
    s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    old_bucket = new_bucket(moto_server)  # reserve the name the extra field points at

    def with_backup_store(config: bytes) -> bytes:
        return config.replace(b"\nspec:\n", b"\nspec:\n  keyStore: s3://%s/%s/pki\n" % (
            old_bucket.encode(), AWS.encode()))

    bucket, objects = s3_source(s3, moto_server)
    # the keyStore names the source bucket itself
    objects[f"{AWS}/config"] = with_backup_store(objects[f"{AWS}/config"]).replace(
        old_bucket.encode(), bucket.encode())
    s3.put_object(Bucket=bucket, Key=f"{AWS}/config", Body=objects[f"{AWS}/config"])
    target = new_bucket(moto_server)
    run = cli("migrate", "--from", f"s3://{bucket}", "--to", f"s3://{target}", "--yes",
              cwd=tmp_path)
    assert run.code == 0, run.err
    assert f"spec.keyStore = s3://{bucket}/{AWS}/pki still names the old store" in run.out
    after = bucket_objects(s3, target)
    assert b"keyStore: s3://%s/" % bucket.encode() in after[f"{AWS}/config"]  # not rewritten
    assert after[SECRET] == objects[SECRET]
    assert bucket_objects(s3, bucket) == objects


def test_target_with_other_content_is_refused(
    s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    bucket, _objects = s3_source(s3, moto_server)
    target = new_bucket(moto_server)
    s3.put_object(Bucket=target, Key=f"{HA}/instancegroup/nodes", Body=b"someone else's\n")
    for args in ((), ("--yes",)):
        run = cli("migrate", "--from", f"s3://{bucket}", "--to", f"s3://{target}", *args,
                  cwd=tmp_path)
        assert run.code == 1
        assert f"{HA}/instancegroup/nodes" in run.err and "Nothing was written" in run.err
        assert "Traceback" not in run.err
    assert bucket_objects(s3, target) == {f"{HA}/instancegroup/nodes": b"someone else's\n"}
    same = cli("migrate", "--from", f"s3://{bucket}", "--to", f"s3://{bucket}/", cwd=tmp_path)
    assert same.code == 1 and "the same store" in same.err


class Interrupted(Exception):
    pass


def test_interrupted_migrate_resumes(
    s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    bucket, objects = s3_source(s3, moto_server)
    target_url = f"s3://{bucket}-new"
    s3.create_bucket(Bucket=f"{bucket}-new")
    source, target = open_store(f"s3://{bucket}"), open_store(target_url)
    writes = 0

    def fail_after_ten(_key: str) -> None:
        nonlocal writes
        writes += 1
        if writes > 10:
            raise Interrupted("the network went away")

    try:
        plan = plan_migration(source, target)
        with pytest.raises(Interrupted):
            apply_migration(plan, GuardedStore(target, fail_after_ten))
    finally:
        source.close()
        target.close()
    partial = bucket_objects(s3, f"{bucket}-new")
    partial.pop(MANIFEST_KEY, None)  # best effort: the failing store refused it too
    assert 0 < len(partial) < len(objects)
    assert bucket_objects(s3, bucket) == objects
    run = cli("migrate", "--from", f"s3://{bucket}", "--to", target_url, "--yes", cwd=tmp_path)
    assert run.code == 0, run.err
    assert f"already there {len(partial)}," in run.out
    assert_migrated(objects, bucket_objects(s3, f"{bucket}-new"), f"s3://{bucket}", target_url)


def test_source_changing_during_migrate_is_caught_and_rerun_converges(
    s3: Any, moto_server: str, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    bucket, objects = s3_source(s3, moto_server)
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    source, target = open_store(f"s3://{bucket}"), open_store(str(target_dir))
    nodes = f"{AWS}/instancegroup/nodes"
    changed = objects[nodes].replace(b"maxSize: 2", b"maxSize: 7")

    def kops_writes_meanwhile(_key: str) -> None:
        s3.put_object(Bucket=bucket, Key=nodes, Body=changed)

    try:
        plan = plan_migration(source, target)
        apply_migration(plan, target, on_write=kops_writes_meanwhile)
        with pytest.raises(FatalError, match=rf"source changed during the migration \({nodes}"):
            verify(plan, source, target)
    finally:
        source.close()
        target.close()
    assert (target_dir / nodes).read_bytes() == objects[nodes]
    run = cli("migrate", "--from", f"s3://{bucket}", "--to", str(target_dir), "--yes",
              cwd=tmp_path)
    assert run.code == 0, run.err
    assert "replace an earlier migrate copy 1," in run.out
    assert (target_dir / nodes).read_bytes() == changed


def test_store_names_from_the_repo_config(
    s3: Any, moto_server: str, repo: Path, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    bucket, objects = s3_source(s3, moto_server)
    target = tmp_path / "copy"
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n  - name: old\n    state: s3://{bucket}\n  - name: new\n"
        f"    state: {target}\n")
    run = cli("migrate", "--from", "old", "--to", "new", "--cluster", AWS, "--yes", cwd=repo)
    assert run.code == 0, run.err
    assert_migrated(objects, snapshot(target), f"s3://{bucket}", f"file://{target}",
                    clusters=(AWS,))
    bad = cli("migrate", "--from", "olde", "--to", "new", cwd=repo)
    assert bad.code == 1 and "neither a store name" in bad.err
    shutil.rmtree(target)


def test_status_and_validate_explain_a_config_base_mismatch(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kops #2919: the fixture's configBase (memfs://...) is not the store it is pulled from."""
    store = make_store("minimal-aws")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{store}")
    assert cli("pull", cwd=repo).code == 0
    status = cli("status", cwd=repo)
    expected = (f"cluster {AWS} is stored in file://{store} but its spec.configBase is "
                f"memfs://clusters.example.com/{AWS}")
    assert expected in status.out and "kops issue #2919" in status.out
    validate = cli("validate", cwd=repo)
    assert validate.code == 0  # a warning, not an error
    assert f"state/{AWS}/config:9:0: configbase-store: {expected}" in validate.out
    config = store / AWS / "config"
    config.write_bytes(config.read_bytes().replace(
        b"memfs://clusters.example.com", f"file://{store}".encode()))
    assert cli("pull", cwd=repo).code == 0
    assert "#2919" not in cli("status", cwd=repo).out
    assert "configbase-store" not in cli("validate", cwd=repo).out


def test_s3_to_gcs_and_the_targets_lock(
    s3: Any, moto_server: str, fake_gcs_server: str, tmp_path: Path, cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.servers.gcs import admin_client as gcs_client
    from tests.servers.gcs import new_bucket as new_gcs_bucket

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server)
    bucket, objects = s3_source(s3, moto_server)
    target = new_gcs_bucket(fake_gcs_server)
    client = gcs_client(fake_gcs_server)
    lock = client.bucket(target).blob(f"kops/{LOCK_KEY}")
    lock.upload_from_string(b'{"not": "ours"}')
    held = cli("migrate", "--from", f"s3://{bucket}", "--to", f"gs://{target}/kops", "--yes",
               cwd=tmp_path)
    assert held.code == 1 and "lock" in held.err and "Traceback" not in held.err
    lock.delete()
    run = cli("migrate", "--from", f"s3://{bucket}", "--to", f"gs://{target}/kops", "--yes",
              cwd=tmp_path)
    assert run.code == 0, run.err
    after = {b.name[len("kops/"):]: b.download_as_bytes()
             for b in client.list_blobs(target, prefix="kops/")}
    client.close()
    assert_migrated(objects, after, f"s3://{bucket}", f"gs://{target}/kops")
    assert bucket_objects(s3, bucket) == objects
    gone = cli("migrate", "--from", f"s3://{bucket}", "--to", "s3://kgs-never-made", "--yes",
               cwd=tmp_path)
    assert gone.code == 1 and len(gone.err.strip().splitlines()) == 1, gone.err
    assert "Traceback" not in gone.err


def test_k8s_is_refused_in_one_line(tmp_path: Path, cli: Callable[..., Run]) -> None:
    run = cli("migrate", "--from", str(tmp_path), "--to", "k8s://", cwd=tmp_path)
    assert run.code == 1 and "k8s:// holds only the Cluster" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_a_lost_lock_stops_the_copy(tmp_path: Path) -> None:
    from kops_gitsync.cli.migrate import fenced_every
    from kops_gitsync.errors import LockLost
    from kops_gitsync.sync.lock import StoreLock

    source_dir, target_dir = tmp_path / "old", tmp_path / "new"
    for key, data in kops_objects(f"file://{source_dir}").items():
        (source_dir / key).parent.mkdir(parents=True, exist_ok=True)
        (source_dir / key).write_bytes(data)
    target_dir.mkdir()
    source, target = open_store(str(source_dir)), open_store(str(target_dir))
    plan = plan_migration(source, target)
    lock = StoreLock(target, "migrate")
    lock.acquire()
    (target_dir / LOCK_KEY).unlink()  # `kops-gitsync unlock --yes` from elsewhere
    with pytest.raises(LockLost):
        apply_migration(plan, fenced_every(lock, 0.0))
    assert set(snapshot(target_dir)) <= {MANIFEST_KEY}
