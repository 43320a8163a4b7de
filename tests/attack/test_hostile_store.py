"""Issue 9: hostile store content. Each case ends with a clear error or a withholding that
names the object, nothing lost, in bounded time and memory (measured in a child process and
printed: run with ``-s`` to see the figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.attack.helpers import (
    CLUSTER,
    CONFIG,
    NODES,
    VALID_OBJECTS,
    assert_sane,
    cli,
    git,
    init_repo,
    snapshot,
    write_store,
)
from tests.attack.strategies import yaml_bomb

WORKTREE = Path(__file__).resolve().parents[2]
BIG = 200 * 1024 * 1024


def measured(repo: Path, *args: str, opts: tuple[str, ...] = (), timeout: float = 300
             ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, float]]]:
    """``kops-gitsync ARGS`` in a child process, with its time and peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.attack.measure", *opts, "--", *args],
        cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
    )
    figures = [json.loads(line.split(" ", 1)[1]) for line in proc.stderr.splitlines()
               if line.startswith("MEASURE ")]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert figures, proc.stderr
    print(f"\n{' '.join(args[:1])} {' '.join(opts)}: {figures}")
    return proc, figures


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref") + git(repo, "rev-parse", "HEAD")


def test_a_listing_of_100000_keys_pulls_in_bounded_time_and_memory(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    url = "memfs://hundred-thousand"
    proc, figures = measured(repo, "pull", "--state", url,
                             opts=("--memfs", url, "100000", "--twice"), timeout=900)
    first, second = figures
    assert first["code"] == 0 and second["code"] == 0, proc.stderr
    assert "100003 added" in proc.stdout and "listed 100003, read 0" in proc.stdout
    # Generous: on a 2-core machine shared by 8 agents it measured 10-14 s and 234 MB, of
    # which 54 MB is the in-process memfs store itself (280 MB before reads were windowed).
    assert first["seconds"] < 240, figures
    assert second["seconds"] < 120, figures
    assert first["maxrss_mb"] < 512, figures


def test_a_yaml_bomb_is_mirrored_as_bytes_and_refused_by_the_checks(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    bomb = (VALID_OBJECTS[CONFIG].rstrip(b"\n") + b"\n  bomb:\n" + b"".join(
        b"    " + line + b"\n" for line in yaml_bomb(9, 9).splitlines()))
    (store / CONFIG).write_bytes(bomb)  # 9**9 = 387 million nodes if anything expanded it
    repo = init_repo(tmp_path / "repo")
    proc, figures = measured(repo, "pull", "--state", f"file://{store}", timeout=120)
    assert figures[0]["code"] == 0, proc.stderr
    assert figures[0]["maxrss_mb"] < 128, figures  # 28 seen
    assert git(repo, "show", f"HEAD:state/{CONFIG}").encode() == bomb  # bytes, not expanded
    for args in (["hook", "validate", f"state/{CONFIG}"], ["validate", f"state/{CONFIG}"]):
        proc, figures = measured(repo, *args, timeout=120)
        assert figures[0]["code"] == 1, proc.stderr
        assert figures[0]["maxrss_mb"] < 128, figures  # 53 seen
        assert f"state/{CONFIG}" in proc.stderr + proc.stdout
        assert "alias" in (proc.stderr + proc.stdout).lower(), proc.stderr + proc.stdout


def test_a_200_mb_object_is_withheld_by_name_unread(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    big = store / CLUSTER / "addons" / "huge.yaml"
    big.parent.mkdir(parents=True)
    with big.open("wb") as handle:
        handle.truncate(BIG)  # sparse: costs no disk
    repo = init_repo(tmp_path / "repo")
    proc, figures = measured(repo, "pull", "--state", f"file://{store}", timeout=300)
    assert figures[0]["code"] == 0, proc.stderr
    assert f"{CLUSTER}/addons/huge.yaml is too large to mirror" in proc.stderr
    assert figures[0]["maxrss_mb"] < 64, figures  # far below the object's 200 MB (28 seen)
    assert not (repo / "state" / CLUSTER / "addons" / "huge.yaml").exists()
    assert "1 too large" in git(repo, "log", "-1", "--format=%B",
                                 "refs/kops-gitsync/observed/default")
    assert (repo / "state" / NODES).read_bytes() == VALID_OBJECTS[NODES]
    # the next pull does not look at it again
    proc, figures = measured(repo, "pull", timeout=300)
    assert figures[0]["code"] == 0 and "up to date" in proc.stdout, proc.stderr
    assert big.stat().st_size == BIG


@pytest.mark.parametrize("kind", ["link-to-file", "link-to-dir", "dangling-link", "fifo"])
def test_links_and_fifos_in_a_file_store(tmp_path: Path, kind: str) -> None:
    store = write_store(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("password: hunter2\n")
    where = store / CLUSTER / "instancegroup" / "evil"
    if kind == "link-to-file":
        where.symlink_to(outside / "secret")
    elif kind == "link-to-dir":
        where.symlink_to(outside, target_is_directory=True)
    elif kind == "dangling-link":
        where.symlink_to(tmp_path / "nowhere")
    else:
        os.mkfifo(where)
    repo = init_repo(tmp_path / "repo")
    before, store_before = refs(repo), snapshot(store)
    proc, figures = measured(repo, "pull", "--state", f"file://{store}", timeout=60)
    assert snapshot(store) == store_before
    assert "hunter2" not in git(repo, "log", "--all", "-p")
    if kind == "fifo":  # skipped with a warning naming it; the rest is mirrored
        assert figures[0]["code"] == 0, proc.stderr
        assert "instancegroup/evil" in proc.stderr and "FIFO" in proc.stderr
        assert not (repo / "state" / CLUSTER / "instancegroup" / "evil").exists()
        assert (repo / "state" / NODES).exists()
    else:  # refused, named, nothing recorded
        assert figures[0]["code"] == 1, proc.stderr
        assert "instancegroup/evil" in proc.stderr and "symbolic link" in proc.stderr
        assert refs(repo) == before


def test_invalid_utf8_content_is_mirrored_and_refused_clearly(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    bad = VALID_OBJECTS[NODES].replace(b"maxSize: 2", b"maxSize: 2\n  note: caf\xe9 \xff")
    (store / NODES).write_bytes(bad)
    repo = init_repo(tmp_path / "repo")
    pull = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert pull.code == 0, pull.err
    assert (repo / "state" / NODES).read_bytes() == bad
    for args in (["hook", "validate", f"state/{NODES}"], ["validate", f"state/{NODES}"]):
        run = cli(*args, cwd=repo)
        assert_sane(run, " ".join(args))
        assert run.code == 1 and f"state/{NODES}" in run.text and "UTF-8" in run.text, run.text
    # an edit elsewhere cannot carry the broken object back: push checks the cluster first
    path = repo / "state" / CONFIG
    path.write_bytes(path.read_bytes() + b"# reviewed\n")
    git(repo, "commit", "-qam", "edit")
    store_before = snapshot(store)
    push = cli("push", "--yes", cwd=repo)
    assert_sane(push, "push --yes")
    assert snapshot(store) == store_before or push.code == 0
