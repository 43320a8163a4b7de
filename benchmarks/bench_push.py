"""``kops-gitsync push --yes`` against ``rclone copy`` of the same changed files, on moto
(run by hand, prints figures).

    .venv/bin/python benchmarks/bench_push.py              # 10 and 100 clusters, 10 and 200 changes
    .venv/bin/python benchmarks/bench_push.py 10 --reps 5  # one store size, more repetitions
    BENCH_CODE=/tmp/old .venv/bin/python benchmarks/bench_push.py 10  # another version's CLI

For each store size a fresh moto server gets N clusters of the shared fixture data and a
review repository pulls it. Each repetition then commits K changed InstanceGroups (new ones
the first time, edits after) and times, one after the other, two processes that put the
same K objects into the bucket:

* ``kops-gitsync push --yes`` (a new process, as an operator runs it: conditional writes
  under the store lock, journalled, recorded on the observed ref; capability cache warm);
* ``rclone copy`` of a local folder holding exactly those K files (``--checksum`` so that it
  compares MD5s from its listing instead of HEADing objects).

rclone writes into a second bucket holding the same store, so both tools face the same
listing size and both really write K objects. Printed per case: the median over
repetitions of the per-repetition ratio kops-gitsync/rclone (the aim, issue 12: <= 0.8),
both medians in seconds, and the requests of the last repetition from moto's request log
(which sees both tools alike); the warm-up line shows the store's own counters.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_core import BUCKET, MotoLog, git, moto_server, shown  # noqa: E402
from bench_s3 import peer_env  # noqa: E402

from kops_gitsync.sync.context import open_contexts  # noqa: E402
from kops_gitsync.sync.pull import pull  # noqa: E402
from kops_gitsync.sync.push import push  # noqa: E402
from tests.servers.s3 import s3_env  # noqa: E402

_NAME = re.compile(rb"\n  name: [^\n]+\n")
PEER_BUCKET = "kops-state-rclone"
RCLONE_FLAGS = ["--transfers", "16", "--checkers", "16", "--checksum", "--config", "/dev/null"]


def change(repo: Path, count: int, rep: int) -> list[Path]:
    """Write ``count`` InstanceGroups (``bench-NNN`` spread over the clusters), each a copy
    of an existing group of its cluster with its own name and a per-repetition comment."""
    clusters = sorted(p for p in (repo / "state").iterdir() if p.is_dir())
    changed = []
    for i in range(count):
        cluster = clusters[i % len(clusters)]
        groups = sorted(g for g in (cluster / "instancegroup").iterdir()
                        if not g.name.startswith("bench-"))
        nodes = [g for g in groups if b"role: Node" in g.read_bytes()]
        template = (nodes or groups)[0].read_bytes()  # a new control plane needs etcd
        name = f"bench-{i:03d}"
        data = _NAME.sub(f"\n  name: {name}\n".encode(), template, count=1)
        target = cluster / "instancegroup" / name
        target.write_bytes(data + f"# repetition {rep}\n".encode())
        changed.append(target)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{count} changes, repetition {rep}")
    return changed


def run_process(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def rclone_copy(repo: Path, work: Path, changed: list[Path], tag: str,
                env: dict[str, str]) -> float:
    """``rclone copy`` of exactly the changed files, from a local folder, into the peer
    bucket (which holds the same store)."""
    folder = work / f"rclone-src-{tag}"
    for path in changed:
        target = folder / path.relative_to(repo / "state")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return run_process(["rclone", "copy", str(folder), f"moto:{PEER_BUCKET}", *RCLONE_FLAGS],
                       work, env)


def in_process_push(repo: Path, env: dict[str, str]) -> tuple[float, dict[str, int]]:
    """What the daemon does per push: open the store (a new boto3 client), push."""
    start = time.perf_counter()
    ctx = open_contexts(repo, None, None, env)[0]
    try:
        push(ctx, apply=True)
        counts = dict(ctx.store.request_counts)  # type: ignore[attr-defined]
    finally:
        ctx.close()
    return time.perf_counter() - start, counts


def report(label: str, ours: list[float], peer: list[float]) -> None:
    ratios = [o / p for o, p in zip(ours, peer, strict=True)]
    print(f"    {label:26} kops-gitsync/rclone = {statistics.median(ratios):.2f}  "
          f"(per repetition {', '.join(f'{r:.2f}' for r in ratios)}; medians: kops-gitsync "
          f"{statistics.median(ours):.2f} s, rclone {statistics.median(peer):.2f} s)")


def case(repo: Path, work: Path, count: int, reps: int, log: MotoLog,
         ours_env: dict[str, str], rclone_env: dict[str, str]) -> None:
    ours_cmd = [sys.executable, "-m", "kops_gitsync", "push", "--yes"]
    cli, cli_peer, api, api_peer = [], [], [], []
    logged: dict[str, Counter[str]] = {}
    own: dict[str, int] = {}
    print(f"  push of {count} changes ({reps} repetitions):")
    for rep in range(reps):
        changed = change(repo, count, 2 * rep)
        log.mark()
        cli.append(run_process(ours_cmd, repo, ours_env))
        time.sleep(0.5)
        logged["kops-gitsync push --yes"] = log.since_mark()
        log.mark()
        cli_peer.append(rclone_copy(repo, work, changed, f"{count}-{rep}-a", rclone_env))
        time.sleep(0.5)
        logged["rclone copy"] = log.since_mark()
        changed = change(repo, count, 2 * rep + 1)
        elapsed, own = in_process_push(repo, ours_env)
        api.append(elapsed)
        api_peer.append(rclone_copy(repo, work, changed, f"{count}-{rep}-b", rclone_env))
    report("CLI process (push --yes)", cli, cli_peer)
    report("in-process (daemon path)", api, api_peer)
    seen = "; ".join(f"{k} {shown(v)}" for k, v in logged.items())
    print(f"    requests, last repetition: {seen} (moto log); in-process push {shown(own)} "
          "(store counters)")


def rclone_env(endpoint: str) -> dict[str, str]:
    """The peers' environment without AWS_CA_BUNDLE, which the AWS SDK in rclone refuses for
    a plain-http endpoint ("unable to load custom CA bundle")."""
    env = peer_env(endpoint)
    env.pop("AWS_CA_BUNDLE", None)
    return env


def run(clusters: int, changes: list[int], reps: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kgs-bench-push-") as tmp, \
            moto_server(Path(tmp)) as moto:
        work, endpoint = moto.work, moto.endpoint
        objects = moto.fill([BUCKET, PEER_BUCKET], clusters)
        print(f"N = {clusters} clusters, {objects} objects, load {os.getloadavg()[0]:.1f}; "
              f"rclone copy {' '.join(RCLONE_FLAGS[:-2])}")
        repo = work / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        # "auto": the conditional-write probe runs (once: then it is cached), as for
        # any custom endpoint; the cache lives in this run's own folder.
        ours_env = {**os.environ, **s3_env(endpoint),
                    "KOPS_STATE_STORE": f"s3://{BUCKET}",
                    "KOPS_GITSYNC_CACHE_DIR": str(work / "cache"),
                    "PYTHONPATH": os.environ.get("BENCH_CODE", str(ROOT))}
        # Byte-code cached as in any installed package (this environment may turn it off):
        # otherwise each CLI run compiles every module again, which no operator pays. Not
        # in a PYTHONPYCACHEPREFIX: there Python ignores the byte-code the standard library
        # and botocore already have, and the first run compiles them all.
        ours_env.pop("PYTHONDONTWRITEBYTECODE", None)
        ours_env.pop("PYTHONPYCACHEPREFIX", None)
        code = Path(ours_env["PYTHONPATH"]) / "kops_gitsync"  # every module, not just --help's
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(code)], env=ours_env,
                       stdout=subprocess.DEVNULL, check=True)
        ctx = open_contexts(repo, None, f"s3://{BUCKET}", ours_env)[0]
        try:
            pull(ctx)
            store = ctx.store
            store.capabilities  # noqa: B018 - warms the capability cache like a first push
            store._sse_argument()  # type: ignore[attr-defined]
            print(f"  warm-up (probe + GetBucketEncryption): "
                  f"{shown(dict(store.request_counts))} incl. the pull")
        finally:
            ctx.close()
        for count in changes:
            case(repo, work, count, reps, moto.log, ours_env, rclone_env(endpoint))
            print(f"    load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("clusters", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--changes", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for n in args.clusters:
        run(n, args.changes, args.reps)
