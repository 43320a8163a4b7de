"""How quickly the daemon reacts, and what it costs at rest. Run by hand, prints figures:

    .venv/bin/python benchmarks/bench_daemon.py [--rounds 10] [--idle-seconds 30]

* store change -> commit on the observed ref: file:// (inotify event) and s3:// (moto,
  interval 1 s, so the figure is dominated by where in the interval the change falls);
* approved commit on main -> object written in the store, for both;
* idle CPU (share of one core) and RSS of one daemon with 20 file:// stores configured.

Everything is real: a git repo in a temp dir, the daemon as a subprocess, moto's S3
server as another. Latencies are measured from outside by polling (git rev-parse, the
file, a GET) every 10 ms, so they include up to that much polling delay.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.daemon.conftest import git, make_repo  # noqa: E402
from tests.servers.s3 import admin_client, s3_env, start_moto, stop_process  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "stores" / "minimal-aws"
CLUSTER = "minimal-aws.example.com"
POLL = 0.01


def start_daemon(repo: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo),
             "--log-format", "json", "--fetch-interval", "0"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, env={**os.environ, **env})


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> float:
    """Seconds until ``check()`` is true."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError("no reaction within a minute")
        time.sleep(POLL)
    return time.monotonic() - started


def read_or_none(path: Path) -> str | None:
    """A working-tree file, which git may be replacing at this very moment."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def observed(repo: Path, store: str = "dev") -> str:
    done = subprocess.run(["git", "rev-parse", "-q", "--verify",
                           f"refs/kops-gitsync/observed/{store}"],
                          cwd=repo, capture_output=True, text=True)
    return done.stdout.strip()


def summary(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
    print(f"  {name:44} median {statistics.median(samples) * 1000:7.0f} ms   "
          f"p90 {p90 * 1000:7.0f} ms   max {samples[-1] * 1000:7.0f} ms   (n={len(samples)})")


class Backend:
    """Read and write one object of the store from outside the daemon."""

    def __init__(self, url: str, read: Callable[[str], bytes],
                 write: Callable[[str, bytes], None], env: dict[str, str]) -> None:
        self.url, self.read, self.write, self.env = url, read, write, env


def file_backend(root: Path) -> Backend:
    shutil.copytree(FIXTURE, root)
    return Backend(f"file://{root}", lambda k: (root / k).read_bytes(),
                   lambda k, d: (root / k).write_bytes(d), {})


def s3_backend(endpoint: str, bucket: str) -> Backend:
    client = admin_client(endpoint)
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in FIXTURE.rglob("*") if p.is_file()):
        client.put_object(Bucket=bucket, Key=path.relative_to(FIXTURE).as_posix(),
                          Body=path.read_bytes())

    def read(key: str) -> bytes:
        data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    return Backend(f"s3://{bucket}", read,
                   lambda k, d: client.put_object(Bucket=bucket, Key=k, Body=d),
                   s3_env(endpoint, KOPS_GITSYNC_S3_CONDITIONAL="on"))


def latency(label: str, backend: Backend, work: Path, rounds: int, interval: float) -> None:
    repo = make_repo(work / "repo", [{"name": "dev", "state": backend.url,
                                      "interval": interval, "auto_push": True}])
    proc = start_daemon(repo, backend.env, work / "daemon.log")
    try:
        wait_until(lambda: bool(observed(repo)))
        time.sleep(1.0)
        key = f"{CLUSTER}/kops-version.txt"  # derived: kops writes it, push never does
        intent = f"{CLUSTER}/config"  # what people edit, and push writes
        mirror = repo / "state" / key
        pulls, pushes = [], []
        for i in range(rounds):
            before = observed(repo)
            backend.write(key, f"1.31.{i}\n".encode())
            pulls.append(wait_until(lambda b=before: observed(repo) not in ("", b)))
            wait_until(lambda i=i: read_or_none(mirror) == f"1.31.{i}\n")  # merged
            time.sleep(0.5)
            edited = repo / "state" / intent
            line = f"# approved change {i}\n"
            edited.write_text(edited.read_text() + line)
            git(repo, "commit", "-q", "-am", f"approve {i}")
            pushes.append(wait_until(lambda t=line: backend.read(intent).decode().endswith(t)))
            time.sleep(0.5)
        print(f"{label}:")
        summary("store change -> commit on the observed ref", pulls)
        summary("approved commit -> store write", pushes)
    finally:
        proc.terminate()
        proc.wait(60)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_cost(work: Path, stores: int, seconds: float) -> None:
    configs = []
    for i in range(stores):
        root = work / f"store-{i}"
        shutil.copytree(FIXTURE, root)
        configs.append({"name": f"s{i}", "state": f"file://{root}", "path": f"state/s{i}",
                        "interval": 300, "auto_push": i % 2 == 0})
    repo = make_repo(work / "repo", configs)
    proc = start_daemon(repo, {}, work / "daemon.log")
    try:
        wait_until(lambda: all(observed(repo, f"s{i}") for i in range(stores)), timeout=300)
        time.sleep(3.0)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        threads = len(os.listdir(f"/proc/{proc.pid}/task"))
        print(f"idle, {stores} file:// stores ({stores // 2 + stores % 2} with auto_push, "
              f"leases renewed every 15 s):")
        print(f"  CPU {100 * (cpu1 - cpu0) / (t1 - t0):.2f} % of one core over {t1 - t0:.0f} s, "
              f"RSS {rss_mib(proc.pid):.1f} MiB, {threads} threads")
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--stores", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
        os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")
        latency("file:// (event-driven, interval 300 s)", file_backend(work / "fs" / "store"),
                work / "fs", args.rounds, 300)
        endpoint, moto = start_moto(work / "moto.log")
        try:
            latency("s3:// on moto (polled, interval 1 s)",
                    s3_backend(endpoint, "bench-daemon"), work / "s3", args.rounds, 1)
        finally:
            stop_process(moto)
        idle_cost(work / "idle", args.stores, args.idle_seconds)


if __name__ == "__main__":
    main()
