"""Secret scan throughput on kops objects, and what it costs a hook to start.

Pull scans every object it reads and ``kops-no-secrets`` scans every staged file, so the
scanner's cost per MB and its import time are paid all the time. This prints, for the
bundled example store and (when present) the shared fixture stores:

* MB/s of ``secretscan.findings`` over every non-secret object (what pull mirrors) and over
  every object (secrets included, where rules fire and detect-secrets gets imported);
* the import time of ``kops_gitsync.secretscan`` in a fresh interpreter, and whether
  scanning the clean objects imported detect-secrets (it should not);
* with ``--against REV``, the same figures for ``kops_gitsync/secretscan.py`` at git REV
  (a single-module scanner, as before issue 14), for a before/after comparison.

Run by hand:  .venv/bin/python benchmarks/bench_secretscan.py [--runs 5] [--against REV]
It prints figures; it asserts nothing (machines differ, and so does their load).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kops_gitsync.secretscan import findings  # noqa: E402

STORES = [ROOT / "examples" / "store", ROOT.parent / "shared" / "fixtures" / "stores"]


def corpus() -> tuple[list[bytes], list[bytes]]:
    """(every non-secret object, every object) of the stores that exist here."""
    clean: list[bytes] = []
    everything: list[bytes] = []
    for root in STORES:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file():
                data = path.read_bytes()
                everything.append(data)
                if not {"private", "secrets"} & set(path.relative_to(root).parts):
                    clean.append(data)
    return clean, everything


def throughput(scan: Callable[[bytes], object], files: list[bytes], runs: int) -> float:
    size = sum(map(len, files))
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for data in files:
            scan(data)
        best = min(best, time.perf_counter() - start)
    return size / 1e6 / best


def import_ms(module: str, runs: int, cwd: Path) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return min(samples) * 1000


def old_scanner(rev: str) -> Callable[[bytes], object]:
    source = subprocess.run(
        ["git", "show", f"{rev}:kops_gitsync/secretscan.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-secretscan-")) / "old_secretscan.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("old_secretscan", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_secretscan"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    scan: Callable[[bytes], object] = module.scan
    return scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="also time secretscan.py at REV")
    args = parser.parse_args()
    clean, everything = corpus()
    mb_clean = sum(map(len, clean)) / 1e6
    mb_all = sum(map(len, everything)) / 1e6
    print(
        f"{len(clean)} clean objects ({mb_clean:.2f} MB), {len(everything)} in all "
        f"({mb_all:.2f} MB); best of {args.runs}"
    )
    probe = (
        "import sys; from pathlib import Path; sys.path.insert(0, 'benchmarks');"
        "import bench_secretscan as b; [b.findings(d) for d in b.corpus()[0]];"
        "print('detect_secrets' in sys.modules)"
    )
    lazy = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        f"{'now':<12} clean {throughput(findings, clean, args.runs):6.1f} MB/s   all "
        f"{throughput(findings, everything, args.runs):6.1f} MB/s   import secretscan "
        f"{import_ms('kops_gitsync.secretscan', args.runs, ROOT):5.1f} ms   "
        f"detect-secrets imported on clean objects: {lazy}"
    )
    print(
        f"{'':<12} import detect_secrets.plugins.jwt (paid on first candidate) "
        f"{import_ms('detect_secrets.plugins.jwt', args.runs, ROOT):5.1f} ms"
    )
    if args.against:
        old = old_scanner(args.against)
        print(
            f"{args.against:<12} clean {throughput(old, clean, args.runs):6.1f} MB/s   all "
            f"{throughput(old, everything, args.runs):6.1f} MB/s"
        )


if __name__ == "__main__":
    main()
