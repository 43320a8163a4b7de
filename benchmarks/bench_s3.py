"""s3:// pull/push benchmark on moto, with ``aws s3 sync`` and ``rclone sync`` as peers
(run by hand, prints figures).

    .venv/bin/python benchmarks/bench_s3.py            # N = 100 and 400 clusters
    .venv/bin/python benchmarks/bench_s3.py 20         # a quick run

For each N a fresh moto server gets N clusters of the shared fixture data (each cluster a copy
of one fixture cluster under a new folder name). Then, timed:

* full pull into an empty review repo, and the peers' first download into empty folders;
* no-op pull, and the peers' no-op re-sync;
* incremental pull after 10 same-size edits, 2 additions and 1 deletion made with boto3
  behind everyone's back, and the peers' re-sync of the same change;
* push of 10 InstanceGroup edits (kops-gitsync only: the peers have no compare-and-swap
  push to compare with).

Requests are counted twice: by the store (``S3Store.request_counts``) and from moto's own
request log, which also gives the peers' counts. The aims (issue 3): a no-op pull costs
ceil(N/1000) LIST and no GET; an incremental pull costs the listing plus one GET per changed
object; a full pull is at least as fast as the faster peer.
"""

from __future__ import annotations

import math
import os
import re
import shutil
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

from bench_core import (  # noqa: E402  (re-exported for the other benchmarks)
    BUCKET,
    MotoLog,
    git,
    moto_server,
    shown,
    upload_tree,
)

from kops_gitsync.sync.context import open_contexts  # noqa: E402
from kops_gitsync.sync.pull import pull  # noqa: E402
from kops_gitsync.sync.push import push  # noqa: E402
from tests.servers.s3 import ACCESS_KEY, SECRET_KEY, s3_env  # noqa: E402

BIN = Path(sys.executable).parent
__all__ = ["BIN", "BUCKET", "MotoLog", "peer_env", "shown", "upload_tree"]


# -- data -----------------------------------------------------------------------------------


def change_behind_everyones_back(client: Any, bucket: str = BUCKET) -> dict[str, bytes]:
    """10 same-size edits, 2 additions, 1 deletion: the incremental case. Returns the edited
    keys with their new bytes, to check afterwards who really picked them up."""
    igs = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
           for o in page.get("Contents", []) if "/instancegroup/" in o["Key"]]
    edited: dict[str, bytes] = {}
    for key in igs:
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if b"minSize: " in data:
            same_size = data.replace(b"minSize: ", b"minSize:\t", 1)
            client.put_object(Bucket=bucket, Key=key, Body=same_size)
            edited[key] = same_size
        if len(edited) == 10:
            break
    folder = igs[0].rsplit("/", 1)[0]
    groups = {key: client.get_object(Bucket=bucket, Key=key)["Body"].read()
              for key in igs if key.startswith(folder + "/")}
    # A node group copied under a new name, named so inside too (as kops would write it):
    # the push that follows checks every cluster it touches, this one included.
    template = next((d for d in groups.values() if b"role: Node" in d), groups[igs[0]])
    for n in (1, 2):
        named = re.sub(rb"\n  name: [^\n]+\n", f"\n  name: bench-added-{n}\n".encode(),
                       template, count=1)
        client.put_object(Bucket=bucket, Key=f"{folder}/bench-added-{n}", Body=named)
    client.delete_object(Bucket=bucket, Key=igs[-1])
    return edited


def missed(folder: Path, edited: dict[str, bytes]) -> str:
    """How many of the edits a finished sync did not bring into ``folder``."""
    stale = sum(1 for key, data in edited.items()
                if not (folder / key).is_file() or (folder / key).read_bytes() != data)
    return f"  MISSED {stale} of {len(edited)} same-size edits" if stale else ""


# -- the peers --------------------------------------------------------------------------------


def peer_commands(endpoint: str, dest: Path) -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    if (BIN / "aws").exists() or shutil.which("aws"):
        aws = str(BIN / "aws") if (BIN / "aws").exists() else "aws"
        commands["aws s3 sync"] = [aws, "--endpoint-url", endpoint, "s3", "sync",
                                   f"s3://{BUCKET}", str(dest / "aws"), "--delete",
                                   "--only-show-errors"]
    if (BIN / "rclone").exists() or shutil.which("rclone"):
        rclone = str(BIN / "rclone") if (BIN / "rclone").exists() else "rclone"
        # --checksum: compare listing MD5s, so a no-op sync need not HEAD every object
        commands["rclone sync"] = [rclone, "sync", f"moto:{BUCKET}", str(dest / "rclone"),
                                   "--transfers", "16", "--checkers", "16", "--fast-list",
                                   "--checksum", "--config", "/dev/null"]
    return commands


def peer_env(endpoint: str) -> dict[str, str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1"}
    env.update({"RCLONE_CONFIG_MOTO_TYPE": "s3", "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
                "RCLONE_CONFIG_MOTO_ENDPOINT": endpoint,
                "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": ACCESS_KEY,
                "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": SECRET_KEY,
                "RCLONE_CONFIG_MOTO_REGION": "us-east-1"})
    return env


# -- one run ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def phase(label: str, ours: Callable[[], Any], store: Any, log: MotoLog,
          peers: dict[str, list[str]], env: dict[str, str],
          check: Callable[[str], str] = lambda who: "") -> None:
    before = dict(store.request_counts)
    log.mark()
    elapsed, _ = timed(ours)
    counted = {k: v - before.get(k, 0) for k, v in store.request_counts.items()
               if v - before.get(k, 0)}
    logged = log.since_mark()
    print(f"  {label:30} kops-gitsync {elapsed:7.2f} s  {shown(counted)}"
          f"  (moto log: {shown(logged)}){check('kops-gitsync')}")
    for name, command in peers.items():
        log.mark()
        peer_elapsed, done = timed(lambda c=command: subprocess.run(
            c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        if done.returncode != 0:
            print(f"  {'':30} {name} failed: {done.stderr.strip()[:200]}")
            continue
        ratio = elapsed / peer_elapsed if peer_elapsed else float("inf")
        print(f"  {'':30} {name:12} {peer_elapsed:7.2f} s  {shown(log.since_mark())}"
              f"  (kops-gitsync/peer = {ratio:.2f}){check(name)}")


def run(clusters: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kgs-bench-s3-") as tmp, \
            moto_server(Path(tmp)) as moto:
        work, endpoint, client, log = moto.work, moto.endpoint, moto.client, moto.log
        objects = moto.fill([BUCKET], clusters)
        print(f"N = {clusters} clusters, {objects} objects "
              f"(aim for a no-op pull: {math.ceil(objects / 1000)} LIST, 0 GET)")

        repo = work / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        # "on": trust the server's preconditions as on AWS, instead of probing moto
        # (a probe costs 3 PUT + 2 DELETE once per process on a custom endpoint).
        env = {**os.environ, **s3_env(endpoint, KOPS_GITSYNC_S3_CONDITIONAL="on")}
        ctx = open_contexts(repo, None, f"s3://{BUCKET}", env)[0]
        store = ctx.store
        peers = peer_commands(endpoint, work / "peers")
        penv = peer_env(endpoint)

        phase("full pull", lambda: pull(ctx), store, log, peers, penv)
        phase("no-op pull", lambda: pull(ctx), store, log, peers, penv)
        edited = change_behind_everyones_back(client)
        folders = {"kops-gitsync": repo / "state", "aws s3 sync": work / "peers" / "aws",
                   "rclone sync": work / "peers" / "rclone"}
        phase(f"incremental pull ({len(edited)}+2-1)", lambda: pull(ctx), store, log,
              peers, penv, lambda who: missed(folders[who], edited))

        pushed = 0
        for path in sorted((repo / "state").glob("*/instancegroup/*")):
            data = path.read_bytes()
            if b"maxSize: " in data and pushed < 10:
                path.write_bytes(data.replace(b"maxSize: ", b"maxSize:\t", 1))
                pushed += 1
        git(repo, "commit", "-qam", "10 edits")
        phase("push of 10 edits", lambda: push(ctx, apply=True), store, log, {}, penv)
        ctx.close()


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [100, 400]:
        run(n)
