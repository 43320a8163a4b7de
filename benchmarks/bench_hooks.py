"""Hook time for a one-cluster commit, interpreter start included.

A hook that costs more than a blink gets ``--no-verify``'d, so the target is well under
0.5 s per hook. This builds a review repository holding one mirrored cluster (the
``minimal-aws`` fixture, every object but secrets), stages an ordinary InstanceGroup edit,
and times each hook as git would run it: a fresh ``kops-gitsync hook <name>`` process. It
also times a bare interpreter start, for scale, and the whole plain ``pre-commit`` script.

Run by hand:  .venv/bin/python benchmarks/bench_hooks.py [--runs 15]
It prints figures; it asserts nothing (machines differ, and so does their load).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT.parent / "shared" / "fixtures" / "stores" / "minimal-aws"
HOOKS = ["validate", "validate-merge", "protect-production", "no-secrets", "no-derived-edits"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def build_repo(where: Path) -> Path:
    repo = where / "review"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "bench@example.com")
    _git(repo, "config", "user.name", "bench")
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n- name: prod\n  path: state\n  production: true\n"
    )
    for path in STORE.rglob("*"):
        key = path.relative_to(STORE).as_posix()
        if path.is_file() and "/secrets/" not in key and "/pki/private/" not in key:
            target = repo / "state" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--no-verify", "-m", "mirror")
    nodes = repo / "state" / "minimal-aws.example.com" / "instancegroup" / "nodes"
    nodes.write_bytes(nodes.read_bytes().replace(b"maxSize: 2", b"maxSize: 3"))
    _git(repo, "add", "-A")
    return repo


def timed(
    command: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None
) -> tuple[list[float], int]:
    samples = []
    status = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
        status = max(status, proc.returncode)
    return samples, status


def report(label: str, samples: list[float], status: int) -> None:
    print(
        f"{label:<34} min {min(samples) * 1000:7.1f} ms   median "
        f"{statistics.median(samples) * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms"
        + (f"   (exit {status})" if status else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "kops-gitsync"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "kops_gitsync"]
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        repo = build_repo(Path(tmp))
        print(
            f"one cluster (minimal-aws), one staged IG edit; {args.runs} runs each; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        report("python -c pass", *timed([sys.executable, "-c", "pass"], repo, args.runs))
        report(
            "python -c 'import kops_gitsync'",
            *timed([sys.executable, "-c", "import kops_gitsync"], repo, args.runs),
        )
        for hook in HOOKS:
            report(f"kops-gitsync hook {hook}", *timed([*command, "hook", hook], repo, args.runs))
        if exe.exists():  # the plain hook runs its four checks in one process
            env = {**os.environ, "KOPS_GITSYNC": str(exe)}
            script = ["sh", str(ROOT / "hooks" / "pre-commit")]
            report("hooks/pre-commit (4 checks, 1 process)", *timed(script, repo, args.runs, env))


if __name__ == "__main__":
    main()
