#!/usr/bin/env python3
"""How fast ``kops-gitsync diff`` is for 1 and 100 clusters, as a CI job runs it.

Run by hand (``.venv/bin/python benchmarks/bench_diff.py [--runs N]``); it prints figures
and asserts nothing. Each size gets a file:// store of renamed copies of the minimal-aws
fixture cluster (every object: config, InstanceGroups, derived files, keysets), pulled into a
review repository; a branch then raises ``maxSize`` of ``nodes`` and bumps
``kubernetesVersion`` in every cluster. Timed, as subprocesses (interpreter start included):

* ``diff main..feature``: a range, as in CI;
* ``diff`` on the branch: what push would write (the planner against the observed state);
* ``diff --format json`` of the range.

Figures are the minimum and median wall clock over ``--runs``, and the least CPU time of the
child and its git subprocesses (steadier than wall clock on a shared machine); the bare
interpreter start is printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "stores" / "minimal-aws" / "minimal-aws.example.com"


def build_store(root: Path, count: int) -> None:
    for index in range(count):
        name = f"c{index:03d}.example.com"
        for path in FIXTURE.rglob("*"):
            if path.is_file():
                target = root / name / path.relative_to(FIXTURE)
                target.parent.mkdir(parents=True, exist_ok=True)
                data = path.read_bytes().replace(FIXTURE.name.encode(), name.encode())
                target.write_bytes(data)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def prepare(work: Path, count: int, env: dict[str, str]) -> Path:
    store, repo = work / "store", work / "repo"
    build_store(store, count)
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    kops_gitsync(repo, env, "pull", "--state", f"file://{store}")
    git(repo, "switch", "-qc", "feature")
    for config in (repo / "state").glob("*/config"):
        config.write_text(config.read_text().replace("v1.34.0", "v1.35.0"))
        nodes = config.parent / "instancegroup" / "nodes"
        nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 5"))
    git(repo, "commit", "-qam", "feature")
    return repo


CPU: list[float] = []  # CPU seconds of each timed child (and its git children)


def kops_gitsync(repo: Path, env: dict[str, str], *args: str) -> float:
    return child([sys.executable, "-m", "kops_gitsync", *args], repo, env)


def child(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def timed(runs: int, action: object) -> str:
    CPU.clear()
    times = [action() for _ in range(runs)]  # type: ignore[operator]
    return (f"wall min {min(times) * 1000:6.0f} ms, median {statistics.median(times) * 1000:6.0f}"
            f" ms; CPU min {min(CPU or [0]) * 1000:6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    env.pop("KOPS_STATE_STORE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte code cached, not recompiled

    def bare() -> float:
        return child([sys.executable, "-c", "pass"], REPO, env)

    print(f"interpreter start            {timed(args.runs, bare)}")
    for count in (1, 100):
        work = Path(tempfile.mkdtemp(prefix=f"bench-diff-{count}-"))
        try:
            repo = prepare(work, count, env)
            print(f"{count:3d} cluster(s), {count * 2} objects changed:")
            cases = {
                "diff main..feature": ("diff", "main..feature"),
                "diff (pending push)": ("diff",),
                "diff --format json (range)": ("diff", "--format", "json", "main..feature"),
            }
            for label, argv in cases.items():
                figures = timed(args.runs, lambda a=argv, r=repo: kops_gitsync(r, env, *a))
                print(f"  {label:27s}{figures}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
