"""``kops-gitsync migrate`` s3 -> s3 on moto, with ``rclone copy`` and ``aws s3 sync`` as peers
(run by hand, prints figures).

    .venv/bin/python benchmarks/bench_migrate.py           # N = 20 and 100 clusters
    .venv/bin/python benchmarks/bench_migrate.py 10        # a quick run

A fresh moto server gets N clusters of the fixture data in one bucket. Then, timed, each
into its own empty bucket: ``migrate --yes`` (plan, copy under the target lock, manifest,
configBase rewrite, and the verification that re-reads both sides), ``rclone copy`` and
``aws s3 sync`` (a plain copy: no lock, no conditional writes, no rewrite, no verification).
The peers do less, so the ratio is the price of the guarantees; the copy phase alone is
also shown (migrate's own plan/copy/verify split).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_core import build_store  # noqa: E402
from bench_s3 import peer_env, upload_tree  # noqa: E402

from kops_gitsync.backup.migrate import apply_migration, plan_migration, verify  # noqa: E402
from kops_gitsync.cli.migrate import FENCE_INTERVAL, fenced_every  # noqa: E402
from kops_gitsync.sync.lock import StoreLock  # noqa: E402
from kops_gitsync.vfs.registry import open_store  # noqa: E402
from tests.servers.s3 import admin_client, s3_env, start_moto, stop_process  # noqa: E402

SOURCE = "kops-state"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peers(endpoint: str, prefix: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (its own target bucket, command)."""
    import shutil

    found: dict[str, tuple[str, list[str]]] = {}
    if shutil.which("rclone"):
        found["rclone copy"] = (f"{prefix}-rclone", [
            "rclone", "copy", f"moto:{SOURCE}", f"moto:{prefix}-rclone", "--transfers", "16",
            "--checkers", "16", "--fast-list", "--config", "/dev/null"])
    if shutil.which("aws"):
        found["aws s3 sync"] = (f"{prefix}-aws", [
            "aws", "--endpoint-url", endpoint, "s3", "sync", f"s3://{SOURCE}",
            f"s3://{prefix}-aws", "--only-show-errors"])
    return found


def run(clusters: int, endpoint: str, client: Any, env: dict[str, str]) -> None:
    client.create_bucket(Bucket=SOURCE)
    with tempfile.TemporaryDirectory() as tmp:
        build_store(Path(tmp), clusters)
        objects = upload_tree(client, Path(tmp))
    print(f"N = {clusters} clusters, {objects} objects")
    target = f"migrated-{clusters}"
    client.create_bucket(Bucket=target)
    source_store = open_store(f"s3://{SOURCE}", env)
    target_store = open_store(f"s3://{target}", env)
    try:
        start = time.perf_counter()
        plan_time, plan = timed(lambda: plan_migration(source_store, target_store))
        with StoreLock(target_store, "bench") as lock:
            copy_time, written = timed(lambda: apply_migration(
                plan, fenced_every(lock, FENCE_INTERVAL)))
        verify_time, _ = timed(lambda: verify(plan, source_store, target_store))
        ours = time.perf_counter() - start
    finally:
        source_store.close()
        target_store.close()
    print(f"  migrate --yes  {ours:7.2f} s  (plan {plan_time:.2f}, copy {copy_time:.2f} of "
          f"{len(written)} objects, verify {verify_time:.2f})")
    for name, (bucket, command) in peers(endpoint, target).items():
        client.create_bucket(Bucket=bucket)
        # rclone refuses AWS_CA_BUNDLE on a plain-HTTP endpoint (moto): not needed there
        env_for = {k: v for k, v in peer_env(endpoint).items() if k != "AWS_CA_BUNDLE"}
        elapsed, done = timed(lambda c=command, e=env_for: subprocess.run(
            c, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True))
        if done.returncode != 0:
            print(f"  {name:14} failed: {done.stderr.strip()[:200]}")
            continue
        print(f"  {name:14} {elapsed:7.2f} s  migrate/{name.split()[0]} = "
              f"{ours / elapsed:.2f}x total, {copy_time / elapsed:.2f}x copy phase")
    for bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        client.delete_bucket(Bucket=bucket)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [20, 100]
    with tempfile.TemporaryDirectory() as tmp:
        endpoint, proc = start_moto(Path(tmp) / "moto.log")
        try:
            env = {**os.environ, **s3_env(endpoint, KOPS_GITSYNC_S3_CONDITIONAL="on")}
            client = admin_client(endpoint)
            for clusters in sizes:
                run(clusters, endpoint, client, env)
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
