"""Backup benchmark on moto (run by hand, prints figures): what ``secrets: encrypt`` costs a
pull, and how fast ``restore`` rebuilds a store compared with copying a folder up with
``aws s3 sync`` / ``rclone copy`` (the peers neither decrypt nor verify).

    .venv/bin/python benchmarks/bench_backup.py          # N = 20 and 100 clusters
    .venv/bin/python benchmarks/bench_backup.py 10       # a quick run

For each N: one moto bucket with N fixture clusters (about 30 secrets each); timed:

* full pull with ``secrets: exclude`` and with ``secrets: encrypt`` (age, one recipient);
* no-op pull with encrypt: must make no commit, read no body and encrypt nothing;
* ``restore --yes`` of the encrypt repository into an empty bucket (plan, conditional
  creates, decryption, read-back verification), and the peers' upload of the same tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_core import build_store, git  # noqa: E402
from bench_s3 import BIN, BUCKET, peer_env, upload_tree  # noqa: E402

from kops_gitsync.backup.restore import restore  # noqa: E402
from kops_gitsync.sync.context import open_contexts  # noqa: E402
from kops_gitsync.sync.pull import pull  # noqa: E402
from kops_gitsync.vfs.registry import open_store  # noqa: E402
from tests.servers.s3 import admin_client, s3_env, start_moto, stop_process  # noqa: E402


def timed(label: str, fn: Any) -> Any:
    start = time.perf_counter()
    result = fn()
    print(f"  {label:42} {time.perf_counter() - start:8.2f} s")
    return result


def make_repo(path: Path, secrets: str, recipient: str) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    extra = f"  age_recipients: [{recipient}]\n" if secrets == "encrypt" else ""
    (path / ".kops-gitsync.yaml").write_text(
        f"stores:\n- name: prod\n  state: s3://{BUCKET}\n  secrets: {secrets}\n{extra}")
    git(path, "add", "-A")
    git(path, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "config")
    return path


def run(clusters: int, work: Path, endpoint: str, env: dict[str, str]) -> None:
    client = admin_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    source = work / "source"
    build_store(source, clusters)
    count = upload_tree(client, source)
    key = work / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                            text=True).stdout.strip()
    print(f"N = {clusters} clusters, {count} objects")
    for secrets in ("exclude", "encrypt"):
        repo = make_repo(work / secrets, secrets, public)
        (ctx,) = open_contexts(repo, None, None, env)
        timed(f"full pull, secrets: {secrets}", lambda ctx=ctx: pull(ctx))
        ctx.close()
    repo = work / "encrypt"
    sealed = list((repo / ".kops-gitsync" / "encrypted" / "prod").rglob("*.age"))
    print(f"  {'encrypted copies':42} {len(sealed):8}")
    (ctx,) = open_contexts(repo, None, None, env)
    before = {p: p.read_bytes() for p in sealed}
    result = timed("no-op pull, secrets: encrypt", lambda: pull(ctx))
    counts = dict(ctx.store.request_counts)  # type: ignore[attr-defined]
    same = all(p.read_bytes() == data for p, data in before.items())
    print(f"  {'  commit / requests / copies unchanged':42} "
          f"{result.observed_commit or 'none'} / {counts} / {same}")
    ctx.close()

    client.create_bucket(Bucket="restored")
    os.environ["KOPS_GITSYNC_AGE_IDENTITY"] = str(key)
    target = open_store("s3://restored", env)
    restore_ctx = replace(ctx, store=target, url="s3://restored")
    plan, _report = timed("restore --yes (decrypt, write, verify)",
                          lambda: restore(restore_ctx, "HEAD", apply=True, partial=True))
    target.close()
    print(f"  {'  written / cannot restore (etcd snapshots)':42} {len(plan.written)} / "
          f"{len(plan.missing)}")
    penv = peer_env(endpoint)
    if (BIN / "aws").exists() or shutil.which("aws"):
        client.create_bucket(Bucket="aws-peer")
        aws = str(BIN / "aws") if (BIN / "aws").exists() else "aws"
        timed("aws s3 sync folder -> empty bucket", lambda: subprocess.run(
            [aws, "--endpoint-url", endpoint, "s3", "sync", str(source), "s3://aws-peer",
             "--only-show-errors"], env=penv, check=True))
    if (BIN / "rclone").exists() or shutil.which("rclone"):
        client.create_bucket(Bucket="rclone-peer")
        rclone = str(BIN / "rclone") if (BIN / "rclone").exists() else "rclone"
        timed("rclone copy folder -> empty bucket", lambda: subprocess.run(
            [rclone, "copy", str(source), "moto:rclone-peer", "--transfers", "16",
             "--config", "/dev/null"], env=penv, check=True))


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [20, 100]
    for clusters in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
            work = Path(tmp)
            endpoint, proc = start_moto(work / "moto.log")
            try:
                env = {**os.environ, **s3_env(endpoint)}
                env.pop("KOPS_STATE_STORE", None)
                run(clusters, work, endpoint, env)
            finally:
                stop_process(proc)


if __name__ == "__main__":
    main()
