"""Issue 9: races on one file:// store. Two clones of one review repo push at the same
instant (the same object with different edits, and different objects), and a push races an
out-of-band writer that keeps rewriting objects the way kops does (blind replace).

After every round: nothing lost and nothing overwritten silently. Every edit is in the store,
or its push failed with a lock or conflict message (a conflict names the object); no
out-of-band write was reverted; what no one edited is byte-for-byte as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.attack.helpers import CLUSTER, CONFIG, MASTER, NODES, git, init_repo, write_store

WORKTREE = Path(__file__).resolve().parents[2]
ROUNDS = 10
WAIT = 120  # seconds any one process may take
LIFETIME = "maxInstanceLifetime"  # a control-plane IG must keep maxSize 1


def kops(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kops_gitsync", *args], cwd=repo, env=_env(),
                          capture_output=True, text=True, timeout=WAIT)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(WORKTREE))


def together(*jobs: tuple[Path, tuple[str, ...]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every ``(repo, args)`` so that they begin at the same instant; wait (bounded)."""
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-m", "tests.attack.at", str(start), *args],
                              cwd=repo, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for repo, args in jobs]
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{proc.args} did not finish in {WAIT} s")
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def set_field(repo: Path, key: str, old: str, new: str, message: str) -> None:
    path = repo / "state" / key
    text = path.read_text()
    assert old in text, (key, old)
    path.write_text(text.replace(old, new, 1))
    git(repo, "commit", "-qam", message)


def field(data: bytes, name: str) -> str:
    line = next(line for line in data.decode().splitlines() if line.strip().startswith(name))
    return line.split(":", 1)[1].strip()


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store, and two clones of one bare review repo that both pulled it."""
    store = write_store(tmp_path / "store")
    seed = init_repo(tmp_path / "seed")
    assert kops(seed, "pull", "--state", f"file://{store}").returncode == 0
    bare = tmp_path / "review.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    found = []
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        pulled = kops(clone, "pull", "--state", f"file://{store}")
        assert pulled.returncode == 0, pulled.stderr
        found.append(clone)
    return store, found[0], found[1]


def resync(*repos: Path) -> None:
    """Drop each clone's edit commit and pull what the store holds now."""
    for repo in repos:
        git(repo, "reset", "-q", "--hard", "HEAD~1")
        pulled = kops(repo, "pull")
        assert pulled.returncode == 0, pulled.stderr


def why(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode == 0:
        return "ok"
    return "locked" if "locked" in result.stderr else "conflict" if (
        "conflict" in result.stderr or "changed" in result.stderr) else "other"


def explained(result: subprocess.CompletedProcess[str], key: str) -> bool:
    """A failed push says why: the lock, or a conflict naming the object."""
    err = result.stderr
    return "locked" in err or (("conflict" in err or "changed" in err) and key in err)


def test_two_clones_push_different_edits_of_one_object(clones: tuple[Path, Path, Path]) -> None:
    store, a, b = clones
    outcomes = []
    for n in range(ROUNDS):
        before = {k: (store / k).read_bytes() for k in (CONFIG, MASTER)}
        old = field((store / NODES).read_bytes(), "maxSize")
        mine = {a: str(100 + 2 * n), b: str(101 + 2 * n)}
        for repo, value in mine.items():
            set_field(repo, NODES, f"maxSize: {old}", f"maxSize: {value}", f"round {n}")
        ra, rb = together((a, ("push", "--yes")), (b, ("push", "--yes")))
        now = field((store / NODES).read_bytes(), "maxSize")
        won = [repo for repo, r in ((a, ra), (b, rb)) if r.returncode == 0]
        outcomes.append((why(ra), why(rb)))
        assert len(won) <= 1, f"round {n}: both pushes of {NODES} succeeded\n{ra}\n{rb}"
        assert now == (mine[won[0]] if won else old), f"round {n}: store holds {now}"
        for r in (ra, rb):
            assert "Traceback" not in r.stderr, r.stderr
            if r.returncode != 0:
                assert r.returncode == 1 and explained(r, NODES), f"round {n}: {r.stderr}"
        assert {k: (store / k).read_bytes() for k in (CONFIG, MASTER)} == before
        assert not (store / ".kops-gitsync.lock").exists(), f"round {n}: lock left behind"
        # The loser tries again, now that the lock is free: its base is stale and the store
        # holds the winner's edit, so it must be a conflict naming the object, not a write.
        for repo, r in ((a, ra), (b, rb)):
            if r.returncode != 0 and won:
                again = kops(repo, "push", "--yes")
                assert again.returncode == 1, again.stderr
                assert "changed in the store" in again.stderr, again.stderr
                assert NODES in again.stderr, again.stderr
                assert field((store / NODES).read_bytes(), "maxSize") == mine[won[0]]
        resync(a, b)
    print(f"\nsame object, outcome (a, b) per round: {outcomes}")


def test_two_clones_push_different_objects(clones: tuple[Path, Path, Path]) -> None:
    store, a, b = clones
    outcomes = []
    for n in range(ROUNDS):
        config_before = (store / CONFIG).read_bytes()
        old_nodes = field((store / NODES).read_bytes(), "maxSize")
        old_master = field((store / MASTER).read_bytes(), LIFETIME)
        set_field(a, NODES, f"maxSize: {old_nodes}", f"maxSize: {200 + n}", f"a {n}")
        set_field(b, MASTER, f"{LIFETIME}: {old_master}", f"{LIFETIME}: {300 + n}h", f"b {n}")
        ra, rb = together((a, ("push", "--yes")), (b, ("push", "--yes")))
        outcomes.append((why(ra), why(rb)))
        for r, key, name, value, old in ((ra, NODES, "maxSize", str(200 + n), old_nodes),
                                         (rb, MASTER, LIFETIME, f"{300 + n}h", old_master)):
            assert "Traceback" not in r.stderr, r.stderr
            now = field((store / key).read_bytes(), name)
            if r.returncode == 0:
                assert now == value, f"round {n}: {key} holds {now}, its push said done"
            else:
                assert r.returncode == 1 and explained(r, key), f"round {n}: {r.stderr}"
                assert now == old, f"round {n}: {key} holds {now} after a failed push"
        assert (store / CONFIG).read_bytes() == config_before
        assert not (store / ".kops-gitsync.lock").exists(), f"round {n}: lock left behind"
        # A loser tries again: another object changed meanwhile, not its own, so it goes
        # through and both edits are in the store.
        for repo, r in ((a, ra), (b, rb)):
            if r.returncode != 0:
                again = kops(repo, "push", "--yes")
                assert again.returncode == 0, again.stderr
        assert field((store / NODES).read_bytes(), "maxSize") == str(200 + n)
        assert field((store / MASTER).read_bytes(), LIFETIME) == f"{300 + n}h"
        resync(a, b)
    print(f"\ndifferent objects, outcome (a, b) per round: {outcomes}")


WRITER = """
import os, sys, time
path, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
n = 0
with open(log, "a") as out:
    while not os.path.exists(stop) and n < 5000:
        n += 1
        tmp = path + ".oob"
        with open(tmp, "w") as handle:
            handle.write(text + f"# out-of-band write {n}\\n")
        os.replace(tmp, path)
        out.write(f"{n}\\n")
        out.flush()
        time.sleep(0.002)
"""


@pytest.mark.parametrize("target", ["other", "same"])
def test_a_push_racing_an_out_of_band_writer(
    clones: tuple[Path, Path, Path], tmp_path: Path, target: str
) -> None:
    """kops rewrites MASTER (or NODES itself) in a loop while clone a pushes NODES."""
    store, a, _b = clones
    key = MASTER if target == "other" else NODES
    outcomes = []
    for n in range(ROUNDS):
        original = (store / NODES).read_bytes()
        old = field(original, "maxSize")
        set_field(a, NODES, f"maxSize: {old}", f"maxSize: {400 + n}", f"oob {n}")
        log, stop = tmp_path / f"writes-{n}", tmp_path / f"stop-{n}"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store / key), str(log),
                                   str(stop)])
        try:
            time.sleep(0.3)
            (result,) = together((a, ("push", "--yes")))
            time.sleep(0.2)
        finally:
            stop.touch()
            writer.wait(timeout=WAIT)
        writes = log.read_text().split()
        outcomes.append((why(result), len(writes)))
        assert "Traceback" not in result.stderr, result.stderr
        final = (store / key).read_bytes()
        if target == "other":
            # the writer's last write is what the store holds: the push never touched it
            assert final.endswith(f"# out-of-band write {writes[-1]}\n".encode()), n
            assert result.returncode == 0, result.stderr
            assert field((store / NODES).read_bytes(), "maxSize") == str(400 + n)
        else:
            if result.returncode != 0:
                assert result.returncode == 1 and explained(result, NODES), result.stderr
            # whoever wrote last, the content the push started from never comes back
            assert final != original, f"round {n}: a push restored the old {NODES}"
            assert (field(final, "maxSize") == str(400 + n)
                    or final.endswith(f"# out-of-band write {writes[-1]}\n".encode())), final
            if result.returncode == 0 and field(final, "maxSize") != str(400 + n):
                pytest.fail(f"round {n}: the push said done but {NODES} does not hold it")
        assert not (store / ".kops-gitsync.lock").exists()
        git(a, "reset", "-q", "--hard", "HEAD~1")
        pulled = kops(a, "pull")
        assert pulled.returncode == 0, pulled.stderr
    print(f"\nout-of-band writer on {target}: (outcome, writes) per round: {outcomes}")
    assert CLUSTER in str(store / key)


def test_two_pulls_in_one_clone_at_the_same_instant(clones: tuple[Path, Path, Path]) -> None:
    """The observed ref moves by compare-and-swap and git guards its index: one pull records
    and merges the change, the other finds it done or fails with a message, never a
    traceback; a later pull leaves the clone clean with the store's content."""
    store, a, _b = clones
    outcomes = []
    for n in range(ROUNDS):
        nodes = store / NODES
        nodes.write_bytes(nodes.read_bytes().replace(
            f"maxSize: {field(nodes.read_bytes(), 'maxSize')}".encode(),
            f"maxSize: {500 + n}".encode()))
        results = together((a, ("pull",)), (a, ("pull",)))
        outcomes.append(tuple(why(r) for r in results))
        failed = [r.stderr.strip() for r in results if r.returncode]
        if failed and n == 0:
            print(f"\nthe losing pull said: {failed[0]}")
        for r in results:
            assert "Traceback" not in r.stderr, r.stderr
            assert r.returncode == 0 or (r.returncode == 1 and r.stderr.strip()), r
        settle = kops(a, "pull")
        assert settle.returncode == 0, settle.stderr
        assert git(a, "status", "--porcelain") == ""
        assert (a / "state" / NODES).read_bytes() == nodes.read_bytes()
    print(f"\ntwo pulls in one clone, outcome per round: {outcomes}")
