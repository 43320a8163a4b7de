"""Pull at 10/100/400/1000 clusters on moto, beside ``rclone sync --checksum`` (run by hand).

    .venv/bin/python benchmarks/bench_scale.py              # 10 100 400 1000
    .venv/bin/python benchmarks/bench_scale.py 10 100       # a quicker curve
    BENCH_CODE=/tmp/old .venv/bin/python benchmarks/bench_scale.py   # another version's pull

Each size gets a fresh bucket on one moto server, filled with N clusters (fixture clusters
copied under new names, about 45 objects each). Both tools run as fresh processes, the way an
operator or the daemon's timer starts them, so start-up (Python imports, the S3 client,
rclone's Go runtime) counts for both. For each size it prints, for a full, a no-op and an
incremental pull (10 same-size edits, 2 additions, 1 deletion behind everyone's back): wall
time, CPU, peak RSS (from ``/usr/bin/time``), git processes spawned by
kops-gitsync (a ``git`` wrapper on PATH counts them), and the ratios ours/rclone. The curve
should grow linearly in N: per-cluster figures are printed too.

Finally it prints the daemon's request cost per hour for a 100-cluster store at its default
interval, from the requests one unchanged pass makes, at S3 Standard list/get prices.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_core import Moto, MotoLog, git, moto_server, shown  # noqa: E402
from bench_s3 import change_behind_everyones_back, peer_env  # noqa: E402

from tests.servers.s3 import s3_env  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
RCLONE = str(BIN / "rclone") if (BIN / "rclone").exists() else "rclone"
TIME = "/usr/bin/time"  # GNU time (Debian package "time")

_GIT_WRAPPER = """#!/bin/sh
echo "$*" >> "{log}"
exec {git} "$@"
"""


@dataclass
class Run:
    wall: float
    cpu: float  # user + system of the child and everything it waited for (git, for ours)
    rss_mb: float
    git: int = 0
    requests: str = ""


def run_child(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    """One child process: wall time, CPU and peak RSS.

    The RSS comes from ``/usr/bin/time``: a child forked from this (large) process starts
    with this process's peak in its own ``ru_maxrss``, which made every figure at least
    the benchmark's own size."""
    start = time.perf_counter()
    proc = subprocess.Popen([TIME, "-f", "MAXRSS_KB %M", *command], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {err.decode(errors='replace')[-2000:]}")
    lines = err.decode(errors="replace").strip().splitlines()
    rss_kb = int(lines[-1].split()[1]) if lines and lines[-1].startswith("MAXRSS_KB") else 0
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024)


class Bench:
    def __init__(self, work: Path, endpoint: str, log: MotoLog) -> None:
        self.work = work
        self.endpoint = endpoint
        self.log = log
        bindir = work / "bin"
        bindir.mkdir(exist_ok=True)
        self.git_log = work / "git-calls.log"
        wrapper = bindir / "git"
        wrapper.write_text(_GIT_WRAPPER.format(log=self.git_log, git=shutil.which("git")))
        wrapper.chmod(0o755)
        # Byte-code cached as in any installed package (this environment may turn it off):
        # otherwise each run compiles every module again, which no operator pays.
        # Not in a PYTHONPYCACHEPREFIX: there Python ignores the byte-code the standard
        # library and botocore already have, and the first (full) pull compiled them all.
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        self.ours_env = {**env, **s3_env(endpoint, KOPS_GITSYNC_S3_CONDITIONAL="on"),
                         "PATH": f"{bindir}:{os.environ['PATH']}",
                         "PYTHONPATH": os.environ.get("BENCH_CODE", str(ROOT))}
        self.last_counts: Counter[str] = Counter()
        self.peer_env = peer_env(endpoint)

    def ours(self, repo: Path, bucket: str) -> Run:
        self.git_log.write_text("")
        self.log.mark()
        run = run_child([PY, "-m", "kops_gitsync", "pull", "--state", f"s3://{bucket}"],
                        self.ours_env, cwd=repo)
        run.git = len(self.git_log.read_text().splitlines())
        self.last_counts = self.log.since_mark()
        run.requests = shown(self.last_counts)
        return run

    def rclone(self, bucket: str, dest: Path) -> Run:
        self.log.mark()
        run = run_child([RCLONE, "sync", f"moto:{bucket}", str(dest), "--transfers", "16",
                         "--checkers", "16", "--fast-list", "--checksum", "--config",
                         "/dev/null"], self.peer_env)
        run.requests = shown(self.log.since_mark())
        return run


def row(label: str, ours: Run, peer: Run, clusters: int) -> None:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "inf"

    print(f"  {label:12} ours {ours.wall:6.2f} s wall {ours.cpu:6.2f} s cpu {ours.rss_mb:5.0f} MB"
          f" git={ours.git:<3} [{ours.requests}] | rclone {peer.wall:6.2f} s wall {peer.cpu:6.2f}"
          f" s cpu {peer.rss_mb:5.0f} MB [{peer.requests}] | ours/rclone wall "
          f"{ratio(ours.wall, peer.wall)} cpu {ratio(ours.cpu, peer.cpu)} rss "
          f"{ratio(ours.rss_mb, peer.rss_mb)} | per cluster {1000 * ours.wall / clusters:.1f} ms"
          f" {ours.rss_mb / clusters:.2f} MB")


def median_of(runs: list[Run]) -> Run:
    """The run with the median wall time (a busy machine makes single runs noisy)."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def one_size(bench: Bench, clusters: int, moto: Moto) -> tuple[Run, dict[str, int], int]:
    bucket = f"scale-{clusters}"
    objects = moto.fill([bucket], clusters, rename=False)
    repo = bench.work / f"repo-{clusters}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    dest = bench.work / f"rclone-{clusters}"
    print(f"N = {clusters} clusters, {objects} objects, load {os.getloadavg()[0]:.1f}")
    row("full", bench.ours(repo, bucket), bench.rclone(bucket, dest), clusters)
    noops, peers = [], []
    for _ in range(3):
        noops.append(bench.ours(repo, bucket))
        per_pass = dict(bench.last_counts)
        peers.append(bench.rclone(bucket, dest))
    noop = median_of(noops)
    row("no-op (med3)", noop, median_of(peers), clusters)
    change_behind_everyones_back(moto.client, bucket)
    row("incremental", bench.ours(repo, bucket), bench.rclone(bucket, dest), clusters)
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    return noop, per_pass, objects


def daemon_cost(noop: Run, per_pass: dict[str, int], objects: int) -> None:
    """Requests of one unchanged pass times passes per hour at the default interval."""
    from dataclasses import fields

    from kops_gitsync.config.repo_config import StoreConfig
    from kops_gitsync.daemon.metrics import hourly_request_cost

    interval = next(f.default for f in fields(StoreConfig) if f.name == "interval")
    assert isinstance(interval, float)
    passes, requests, dollars = hourly_request_cost(per_pass, interval)
    print(f"daemon, 100 clusters ({objects} objects), default interval {interval:.0f} s: "
          f"{sum(per_pass.values())} requests per unchanged pass ({noop.requests}) x "
          f"{passes:.0f} passes/hour = {requests} requests/hour, ${dollars:.5f}/hour, "
          f"${dollars * 24 * 30:.3f}/month at S3 list/get prices "
          "(exported as kops_gitsync_store_requests_total)")


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="kgs-bench-scale-") as tmp, \
            moto_server(Path(tmp)) as moto:
        bench = Bench(moto.work, moto.endpoint, moto.log)
        code = Path(bench.ours_env["PYTHONPATH"]) / "kops_gitsync"
        subprocess.run([PY, "-m", "compileall", "-q", str(code)], env=bench.ours_env,
                       stdout=subprocess.DEVNULL, check=True)  # byte-code of every module, once
        version = subprocess.run([RCLONE, "version"], capture_output=True, text=True)
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} "
              f"cores, load {os.getloadavg()[0]:.1f}, rclone {version.stdout.split()[1]}")
        for n in sizes:
            noop, per_pass, objects = one_size(bench, n, moto)
            if n == 100:
                daemon_cost(noop, per_pass, objects)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 400, 1000])
