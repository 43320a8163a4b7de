"""What a hook run costs does not grow with the clusters in the repository (issue 16).

A hook used to start ``git ls-files``/``ls-tree``/``cat-file`` per cluster (and again per
pre-commit batch), so a 1,000-cluster repository took minutes for ``pre-commit run
--all-files``. These tests count the git processes of real hook runs, with a ``git`` first on
PATH that counts itself and execs the real one, on pulled mirrors of 2 and of 20 clusters:
the counts must be equal. No timing: the benchmark (benchmarks/bench_hooks.py) prints those.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.hooks.conftest import MakeRepo, fixture_store, output

FIXTURE_CLUSTER = fixture_store("minimal-aws") / "minimal-aws.example.com"
FIXTURE_NAME = b"minimal-aws.example.com"


def make_store(where: Path, clusters: int) -> Path:
    """``clusters`` copies of the minimal-aws cluster, each renamed inside and out."""
    store = where / f"store-{clusters}"
    for i in range(clusters):
        name = f"c{i:03d}.example.com"
        for path in FIXTURE_CLUSTER.rglob("*"):
            if path.is_file():
                target = store / name / path.relative_to(FIXTURE_CLUSTER)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes().replace(FIXTURE_NAME, name.encode()))
    return store


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def pulled_mirror(where: Path, clusters: int) -> Path:
    """A review repository as ``kops-gitsync pull`` of a ``clusters``-cluster store leaves it."""
    store = make_store(where, clusters)
    repo = where / f"mirror-{clusters}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", "start")
    subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    return repo


def shimmed(where: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``git`` appends a line to the returned file per process."""
    real = shutil.which("git")
    assert real is not None
    shim = where / "shim"
    shim.mkdir()
    count = where / "git-count"
    (shim / "git").write_text(f'#!/bin/sh\necho "$1" >>"{count}"\nexec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    return {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}, count


def git_processes(repo: Path, env: dict[str, str], count: Path, *args: str) -> int:
    count.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "hook", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return len(count.read_text().splitlines())


def stage_ig_edit(repo: Path) -> None:
    nodes = repo / "state" / "c001.example.com" / "instancegroup" / "nodes"
    nodes.write_text(re.sub(r"maxSize: \d+", "maxSize: 4", nodes.read_text()))
    git(repo, "add", str(nodes))


def test_git_processes_of_a_hook_run_do_not_grow_with_clusters(tmp_path: Path) -> None:
    counts = {}
    for clusters in (2, 20):
        where = tmp_path / str(clusters)
        where.mkdir()
        repo = pulled_mirror(where, clusters)
        env, count = shimmed(where)
        stage_ig_edit(repo)
        every_file = git(repo, "ls-files").split()
        counts[clusters] = (
            # the combined hook on a commit, and on the whole repository
            git_processes(repo, env, count, "checks", "--stage", "commit"),
            git_processes(repo, env, count, "checks", "--stage", "commit", "--all"),
            # the individual hooks, given every file as pre-commit --all-files does
            git_processes(repo, env, count, "validate,no-derived-edits,no-secrets", *every_file),
        )
    assert counts[2] == counts[20], counts


def test_all_files_passes_on_an_untouched_pulled_mirror(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(hooks=("kops-checks",))
    store = make_store(tmp_path, 3)
    repo.run(sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}")
    proc = repo.pre_commit("run", "--all-files", "--verbose")
    assert proc.returncode == 0, output(proc)
    assert "validated 3 clusters" in output(proc), output(proc)


def test_each_cluster_is_validated_once_per_run(make_repo: MakeRepo, tmp_path: Path) -> None:
    """Every cluster broken in the index: each finding once, from one process."""
    repo = make_repo(hooks=("kops-checks",))
    store = make_store(tmp_path, 3)
    repo.run(sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}")
    for nodes in sorted(repo.path.glob("state/*/instancegroup/nodes")):
        nodes.write_text(nodes.read_text().replace("minSize: 2", "minSize: 9"))
    repo.git("add", "-A")
    proc = repo.pre_commit("run", "--all-files", "--verbose")
    assert proc.returncode == 1
    text = output(proc)
    for i in range(3):
        assert text.count(f"state/c{i:03d}.example.com/instancegroup/nodes:") == 1, text
    assert text.count("validated 3 clusters") == 1, text

    # the same edits committed: the hook judges the three clusters the commit touches, once,
    # as a change (git's GIT_INDEX_FILE), not as a whole-repository run
    proc = repo.commit("every cluster broken")
    assert proc.returncode == 1
    text = output(proc)
    for i in range(3):
        assert text.count(f"state/c{i:03d}.example.com/instancegroup/nodes:") == 1, text
    assert "validated 3 clusters" not in text, text


def test_combined_hook_at_commit_judges_the_change_only(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """A broken cluster already committed does not block a commit that does not touch it."""
    repo = make_repo(hooks=("kops-checks",))
    store = make_store(tmp_path, 2)
    repo.run(sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}")
    broken = repo.path / "state/c000.example.com/instancegroup/nodes"
    broken.write_text(broken.read_text().replace("minSize: 2", "minSize: 9"))
    assert repo.commit("broken, committed past the hooks", verify=False).returncode == 0
    nodes = repo.path / "state/c001.example.com/instancegroup/nodes"
    nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 3"))
    proc = repo.commit("an ordinary edit")
    assert proc.returncode == 0, output(proc)
    # by hand, pre-commit run checks every file: the broken cluster is found
    proc = repo.pre_commit("run")
    assert proc.returncode == 1
    assert "state/c000.example.com/instancegroup/nodes:" in output(proc)


def test_combined_hook_with_a_ref_range_judges_that_range(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """CI's ``pre-commit run --from-ref A --to-ref B``: kops-checks gets no file list, so it
    learns the range from pre-commit's environment, deletions included."""
    repo = make_repo(hooks=("kops-checks",))
    store = make_store(tmp_path, 2)
    repo.run(sys.executable, "-m", "kops_gitsync", "pull", "--state", f"file://{store}")
    repo.git("switch", "-q", "-c", "topic")
    master = repo.path / "state/c000.example.com/instancegroup/master-us-test-1a"
    master.unlink()  # etcd still names it: an error only a deletion-aware check sees
    assert repo.commit("drop the control plane", verify=False).returncode == 0
    proc = repo.pre_commit("run", "--from-ref", "main", "--to-ref", "HEAD")
    assert proc.returncode == 1, output(proc)
    assert "etcd-member-unknown-ig" in output(proc), output(proc)
    assert "validated" not in output(proc)  # the range, not the whole repository
