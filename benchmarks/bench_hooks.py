"""Hook cost on a large review repository, beside ``git commit --no-verify``.

Builds a store of N clusters (default 1,000) by copying the ``minimal-aws`` fixture cluster
under N names (the cluster name rewritten inside every object, so the clusters are valid),
pulls it into a review repository with the real ``kops-gitsync pull`` from ``file://``
(about 42 objects per cluster), installs pre-commit with ``repo:`` naming a snapshot of
this checkout, and then measures, each in a fresh child process:

* ``git commit --no-verify`` of a one-InstanceGroup edit (the floor);
* the same commit through the hooks (the documented pre-commit config, ``--config``);
* the same commit through the plain hooks of ``kops-gitsync install-hooks``;
* the same commit through pre-commit with a hook that does nothing (pre-commit's floor);
* the same commit through pre-commit with ``kops-checks`` as a ``repo: local`` hook of
  ``language: system`` (no hook environment to check, kops-gitsync from the PATH);
* ``pre-commit run --all-files`` on the untouched mirror.

For each: CPU (user+sys of the child and everything it waited for, ``getrusage``), wall
time, how many ``git`` processes ran (a ``git`` shim first on PATH counts them before it
execs the real git) and the peak RSS of the largest process.

Run by hand:
  .venv/bin/python benchmarks/bench_hooks.py [--clusters 1000] [--work DIR] [--config combined]
``--work DIR`` keeps the generated store, mirror and pre-commit environments for the next
run (building the 1,000-cluster mirror takes minutes). It prints figures; it asserts
nothing (machines differ, and so does their load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "stores" / "minimal-aws" / "minimal-aws.example.com"
NAME = b"minimal-aws.example.com"
IG = "instancegroup/nodes"
CONFIGS = {
    "combined": ["kops-checks"],
    "individual": [
        "kops-validate",
        "kops-validate-merge",
        "kops-protect-production",
        "kops-no-secrets",
        "kops-no-derived-edits",
    ],
}

# Runs one command and reports what it and its descendants used (this child's own rusage
# of children starts at zero, so nothing measured before leaks in).
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu": use.ru_utime + use.ru_stime, "wall": wall, "rss_kb": use.ru_maxrss,
                  "status": proc.returncode, "stderr": proc.stderr.decode(errors="replace")}))
"""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def build_store(store: Path, clusters: int) -> None:
    """N copies of the fixture cluster, each named c<i>.example.com inside and out."""
    files = [p for p in sorted(FIXTURE.rglob("*")) if p.is_file()]
    payload = [(p.relative_to(FIXTURE).as_posix(), p.read_bytes()) for p in files]
    for i in range(clusters):
        name = f"c{i:04d}.example.com"
        for key, data in payload:
            target = store / name / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.replace(NAME, name.encode()))


def snapshot(dest: Path, env: dict[str, str]) -> str:
    """This checkout (tracked and new files) as a commit pre-commit can clone."""
    if dest.exists():
        shutil.rmtree(dest)
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT)
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    _run(["git", "init", "-q", "-b", "main"], dest, env)
    _run(["git", "add", "-A"], dest, env)
    _run(["git", "commit", "-q", "--no-verify", "-m", "snapshot"], dest, env)
    return _run(["git", "rev-parse", "HEAD"], dest, env).strip()


def build_mirror(work: Path, clusters: int, env: dict[str, str]) -> Path:
    repo = work / f"mirror-{clusters}"
    if (repo / ".git").exists():
        return repo
    store = work / f"store-{clusters}"
    if not store.exists():
        print(f"generating a store of {clusters} clusters ...", flush=True)
        build_store(store, clusters)
    repo.mkdir(parents=True)
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    _run(["git", "commit", "-q", "--allow-empty", "--no-verify", "-m", "start"], repo, env)
    print("pulling it with kops-gitsync pull ...", flush=True)
    _run([sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}"], repo, env)
    return repo


def install(repo: Path, work: Path, hooks: list[str], env: dict[str, str]) -> None:
    rev = snapshot(work / "snapshot", env)
    lines = "".join(f"  - id: {hook}\n" for hook in hooks)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {work / 'snapshot'}\n  rev: {rev}\n  hooks:\n{lines}"
    )
    _run(["git", "add", ".pre-commit-config.yaml"], repo, env)
    _run(["git", "commit", "-q", "--no-verify", "-m", "hooks"], repo, env)
    pre_commit = [sys.executable, "-m", "pre_commit"]
    _run([*pre_commit, "install", "-f", "-t", "pre-commit", "-t", "pre-merge-commit"], repo, env)
    _run([*pre_commit, "install-hooks"], repo, env)
    plain = work / "plain-hooks"
    plain.mkdir(exist_ok=True)
    from kops_gitsync.cli.install_hooks import _hook_command, installed_command, render_hook

    script = plain / "pre-commit"
    script.write_text(render_hook("pre-commit", _hook_command(installed_command())))
    script.chmod(0o755)
    # pre-commit's own floor in this repository: the same framework with a hook that does
    # nothing (its git calls over the work tree, its start-up), for scale.
    noop = work / "noop-hooks"
    noop.mkdir(exist_ok=True)
    (work / "noop-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - {id: noop, name: noop, entry: 'true', "
        "language: system, pass_filenames: false, always_run: true}\n"
    )
    (noop / "pre-commit").write_text(
        f"#!/bin/sh\nexec {sys.executable} -m pre_commit hook-impl "
        f"--config={work / 'noop-config.yaml'} --hook-type=pre-commit "
        f'--hook-dir "$(dirname "$0")" -- "$@"\n'
    )
    (noop / "pre-commit").chmod(0o755)
    # kops-checks as a local hook: what pre-commit costs without a `language: python` env.
    local = work / "local-hooks"
    local.mkdir(exist_ok=True)
    (work / "local-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - {id: kops-checks, name: kops checks, "
        f"entry: '{sys.executable} -m kops_gitsync hook checks', language: system, "
        "pass_filenames: false, always_run: true, require_serial: true}\n"
    )
    (local / "pre-commit").write_text(
        f"#!/bin/sh\nexec {sys.executable} -m pre_commit hook-impl "
        f"--config={work / 'local-config.yaml'} --hook-type=pre-commit "
        f'--hook-dir "$(dirname "$0")" -- "$@"\n'
    )
    (local / "pre-commit").chmod(0o755)


def git_shim(where: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``git`` counts its invocations in the returned file.

    git puts its exec-path first on PATH for hooks, so the shim is also the ``git`` of a
    copy of that folder named by GIT_EXEC_PATH: the hooks' git calls are counted too.
    """
    real = shutil.which("git")
    assert real is not None
    exec_path = Path(_run([real, "--exec-path"], where).strip())
    shim = where / "shim"
    if shim.exists():
        shutil.rmtree(shim)
    shim.mkdir()
    for entry in exec_path.iterdir():
        if entry.name != "git":
            (shim / entry.name).symlink_to(entry)
    count = where / "git-count"
    (shim / "git").write_text(f'#!/bin/sh\necho >>"{count}"\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    env["GIT_EXEC_PATH"] = str(shim)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env.pop("PRE_COMMIT", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an operator's hooks start from .pyc files
    return env, count


RESULTS: dict[str, list[float]] = {}


def measure(label: str, args: list[str], repo: Path, env: dict[str, str], count: Path) -> None:
    count.write_text("")
    out = _run([sys.executable, "-c", _MEASURE, *args], repo, env)
    got = json.loads(out)
    gits = len(count.read_text().splitlines())
    RESULTS.setdefault(label, []).append(got["cpu"])
    print(
        f"{label:<44} cpu {got['cpu']:7.2f} s  wall {got['wall']:7.2f} s  "
        f"git {gits:6d}  rss {got['rss_kb'] / 1024:6.0f} MB"
        + (f"  (exit {got['status']}: {got['stderr'].strip()[-300:]})" if got["status"] else ""),
        flush=True,
    )


def summary() -> None:
    """Median CPU of each commit variant and what it adds to ``git commit --no-verify``."""
    base = sorted(RESULTS.get("git commit --no-verify (one IG)", [0.0]))
    floor = base[len(base) // 2]
    print("medians (CPU): variant, CPU, added to --no-verify")
    for label, values in RESULTS.items():
        ordered = sorted(values)
        median = ordered[len(ordered) // 2]
        print(f"  {label:<44} {median:5.2f} s  +{median - floor:5.2f} s")


_EDITS = [0]


def edit_ig(repo: Path, cluster: str, env: dict[str, str]) -> None:
    """Stage a new maxSize (never the one before) in one InstanceGroup."""
    _EDITS[0] += 1
    path = repo / cluster / IG
    path.write_text(re.sub(r"maxSize: \d+", f"maxSize: {3 + _EDITS[0] % 4}", path.read_text()))
    _run(["git", "add", str(path)], repo, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="commits measured per variant")
    parser.add_argument("--work", type=Path, help="keep (and reuse) the generated repositories")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="combined")
    parser.add_argument("--skip-all-files", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        env, count = git_shim(work)
        env["PRE_COMMIT_HOME"] = str(work / "pre-commit-home")
        repo = build_mirror(work, args.clusters, env)
        install(repo, work, CONFIGS[args.config], env)
        cluster = next(p.parent.parent.relative_to(repo).as_posix()
                       for p in sorted(repo.glob(f"*/*/{IG}")))
        tracked = len(_run(["git", "ls-files", "-z"], repo, env).split("\0")) - 1
        print(
            f"{args.clusters} clusters, {tracked} tracked files; hooks: {args.config} "
            f"({', '.join(CONFIGS[args.config])}); {platform.node()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f}; python {platform.python_version()}"
        )
        plain = ["git", "-c", f"core.hooksPath={work / 'plain-hooks'}"]
        noop = ["git", "-c", f"core.hooksPath={work / 'noop-hooks'}"]
        local = ["git", "-c", f"core.hooksPath={work / 'local-hooks'}"]
        for _ in range(args.runs):
            edit_ig(repo, cluster, env)
            measure("git commit --no-verify (one IG)", ["git", "commit", "-q", "--no-verify",
                    "-m", "ig"], repo, env, count)
            edit_ig(repo, cluster, env)
            measure(f"git commit, pre-commit {args.config} (one IG)",
                    ["git", "commit", "-q", "-m", "ig"], repo, env, count)
            edit_ig(repo, cluster, env)
            measure("git commit, plain install-hooks (one IG)",
                    [*plain, "commit", "-q", "-m", "ig"], repo, env, count)
            edit_ig(repo, cluster, env)
            measure("git commit, pre-commit no-op hook (floor)",
                    [*noop, "commit", "-q", "-m", "ig"], repo, env, count)
            edit_ig(repo, cluster, env)
            measure("git commit, pre-commit local system hook",
                    [*local, "commit", "-q", "-m", "ig"], repo, env, count)
        summary()
        if not args.skip_all_files:
            measure(f"pre-commit run --all-files ({args.config})",
                    [sys.executable, "-m", "pre_commit", "run", "--all-files"], repo, env, count)


if __name__ == "__main__":
    main()
