#!/usr/bin/env python3
"""How fast validation is: 100 clusters in one process, and what one hook run costs.

Run by hand (``.venv/bin/python benchmarks/bench_validate.py [--runs N]``); it prints
figures and asserts nothing. The 100 clusters are the five fixture stores' clusters
(``../shared/fixtures/stores``), twenty renamed copies of each; all must validate clean,
so the figure is for the full rule set on realistic objects.

Subprocess figures are the minimum and median over ``--runs`` (wall clock, plus the CPU
time of the child, which is steadier on a busy machine). The bare interpreter start is
printed too, so the import and validation cost can be read as the difference.
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
sys.path.insert(0, str(REPO))
STORES = REPO.parent / "shared" / "fixtures" / "stores"
ONE_CLUSTER = STORES / "minimal-aws"


def build_clusters(root: Path, count: int) -> int:
    """``count`` clusters under ``root``: renamed copies of the fixture clusters' objects."""
    sources = sorted(p for store in STORES.iterdir() for p in store.iterdir() if p.is_dir())
    for index in range(count):
        source = sources[index % len(sources)]
        name = f"c{index:03d}-{source.name}"
        target = root / name
        (target / "instancegroup").mkdir(parents=True)
        files = [source / "config", *sorted((source / "instancegroup").iterdir())]
        for path in files:
            text = path.read_text().replace(source.name, name)
            (target / path.relative_to(source)).write_text(text)
    return len(sources)


def in_process(root: Path, runs: int) -> tuple[float, int, int]:
    from kops_gitsync.validate import validate_tree

    findings = validate_tree(root)  # warm: imports, schema parse
    best = min(_timed(lambda: validate_tree(root)) for _ in range(runs))
    return best, len(findings), sum(1 for _ in root.iterdir())


def _timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def subprocess_figures(code: str, runs: int) -> tuple[float, float, float]:
    """(min wall, median wall, median child CPU) of ``python -c code``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), statistics.median(walls), statistics.median(cpus)


def import_cost(module: str, runs: int) -> tuple[float, float]:
    """(min, median) cumulative ``-X importtime`` of ``module`` in ms: the import alone,
    without interpreter start-up noise."""
    costs = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                              cwd=REPO, capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                costs.append(int(parts[1]) / 1000)
    return min(costs), statistics.median(costs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="repetitions per figure")
    parser.add_argument("--clusters", type=int, default=100)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
          f" {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        kinds = build_clusters(root, args.clusters)
        best, findings, clusters = in_process(root, max(1, args.runs // 3))
        print(f"validate_tree, {clusters} clusters ({kinds} fixture shapes), in one process:"
              f" {best * 1000:.0f} ms, {best / clusters * 1000:.2f} ms per cluster,"
              f" {findings} findings")
        shutil.rmtree(root)

    low, median = import_cost("kops_gitsync.validate", args.runs)
    print(f"-X importtime kops_gitsync.validate (cumulative): min {low:.1f} ms,"
          f" median {median:.1f} ms")
    rows = [
        ("interpreter start (python -c pass)", "pass"),
        ("import: from kops_gitsync.validate import validate_cluster",
         "from kops_gitsync.validate import validate_cluster"),
        ("one fixture cluster (minimal-aws), interpreter included",
         "from pathlib import Path\nfrom kops_gitsync.validate import validate_tree\n"
         f"assert validate_tree(Path({str(ONE_CLUSTER)!r})) == []"),
        ("kops-gitsync validate <one cluster> (CLI), interpreter included",
         "import sys\nfrom kops_gitsync.cli.main import main\n"
         f"sys.exit(main(['validate', {str(ONE_CLUSTER)!r}]))"),
    ]
    for label, code in rows:
        low, median, cpu = subprocess_figures(code, args.runs)
        print(f"{label}: min {low * 1000:.0f} ms, median {median * 1000:.0f} ms wall,"
              f" median {cpu * 1000:.0f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
