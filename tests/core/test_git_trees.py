"""Trees read and written through cat-file give exactly what git's own commands give.

``GitRepo.read_tree`` must list what ``git ls-tree -r --full-tree C -- PREFIX`` lists and
``GitRepo.build_tree`` must produce the tree id ``read-tree`` + ``update-index --index-info``
+ ``write-tree`` produce (the observed chain's commits keep the ids git would give them).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kops_gitsync.gitrepo import gitproc
from kops_gitsync.gitrepo.repo import GitRepo, TreeEntry
from tests.core.conftest import git


@pytest.fixture
def odd_repo(tmp_path: Path) -> tuple[GitRepo, str]:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {
        "state/a/b/file1": "one\n", "state/a/x": "exec\n", "state/a.b": "dot\n",
        "state/z-file": "z\n", "state-x/file": "sibling\n", "state/é/ü": "unicode\n",
        "top": "top\n", "state/a/b/c/d/deep": "deep\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    os.chmod(root / "state/a/x", 0o755)
    os.symlink("a/x", root / "state/link")
    git(root, "add", "-A")
    sub = "a" * 40  # a submodule's commit, never read
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{sub},state/sub")
    git(root, "commit", "-qm", "odd tree")
    repo = GitRepo.open(root)
    return repo, git(root, "rev-parse", "HEAD").strip()


def ls_tree(root: Path, commit: str, prefix: str) -> dict[str, TreeEntry]:
    out = subprocess.run(["git", "ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix],
                         cwd=root, check=True, capture_output=True).stdout
    entries = {}
    cut = len(prefix.rstrip("/")) + 1
    for record in out.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            mode, _kind, sha = meta.decode().split()
            entries[path.decode("utf-8", "surrogateescape")[cut:]] = TreeEntry(mode, sha)
    return entries


@pytest.mark.parametrize("prefix", ["state", "state/", "state/a", "state/a/", "state/z-file",
                                    "state/link", "state/sub", "missing", "state/a/b/file1",
                                    "state/missing/x", "state/z-file/x", "top", "state/é"])
def test_read_tree_lists_what_ls_tree_lists(
    odd_repo: tuple[GitRepo, str], prefix: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, commit = odd_repo
    repo.resolve("HEAD")  # start cat-file before counting
    spawned: list[list[str]] = []
    real = gitproc.spawn
    monkeypatch.setattr(gitproc, "spawn", lambda a, *r, **k: spawned.append(a) or real(a, *r, **k))
    got = repo.read_tree(commit, prefix)
    monkeypatch.undo()
    assert not spawned
    want = ls_tree(repo.root, commit, prefix)
    assert got == want
    assert list(got) == list(want)  # in git's order too


def index_route(root: Path, base: str | None, changes: dict[str, str | None]) -> str:
    env = {**os.environ, "GIT_INDEX_FILE": str(root / ".git" / "test-index")}
    subprocess.run(["git", "read-tree", base or "4b825dc642cb6eb9a060e54bf8d69288fbee4904"],
                   cwd=root, env=env, check=True)
    records = [f"0 {'0' * 40}\t{p}" if s is None else f"100644 {s}\t{p}"
               for p, s in sorted(changes.items())]
    if records:
        subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=root, env=env,
                       input=("\0".join(records) + "\0").encode(), check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=root, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    os.unlink(root / ".git" / "test-index")
    return tree


CASES: list[dict[str, str | None]] = [
    {},
    {"state/a/b/file1": "NEW"},
    {"state/new/folder/file": "NEW", "state/a.c": "NEW"},
    {"state/a/b/c/d/deep": None},  # the folders it was in go too
    {"state/nothing/here": None, "nowhere": None},
    {"state/a/x": "NEW"},  # an executable file rewritten: a regular file now
    {"state/a/x2": "NEW"},  # next to an executable one, which stays executable
    {"state/a/b/file1/under": "NEW"},  # a file becomes a folder: git decides
    {"state/a": None},  # a folder removed by its name: git decides
    {"state/link": None, "state/sub": None, "state/é/ü": "NEW"},
    {p: None for p in ["state/a/b/file1", "state/a/x", "state/a.b", "state/z-file",
                       "state-x/file", "state/é/ü", "top", "state/a/b/c/d/deep",
                       "state/link", "state/sub"]},  # nothing left: the empty tree
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("from_nothing", [False, True])
def test_build_tree_writes_the_tree_git_writes(
    odd_repo: tuple[GitRepo, str], case: int, from_nothing: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, commit = odd_repo
    blob = repo.write_blob(b"new content\n")
    changes = {p: (blob if s == "NEW" else s) for p, s in CASES[case].items()}
    base = None if from_nothing else commit
    repo.resolve("HEAD")  # start cat-file before counting
    spawned: list[list[str]] = []
    real = gitproc.spawn
    monkeypatch.setattr(gitproc, "spawn", lambda a, *r, **k: spawned.append(a) or real(a, *r, **k))
    got = repo.build_tree(base, changes)
    monkeypatch.undo()
    asks_git = case in (7, 8) and not from_nothing
    assert bool(spawned) == asks_git, spawned
    assert got == index_route(repo.root, base, changes)
    subprocess.run(["git", "fsck", "--no-dangling", "--strict"], cwd=repo.root, check=True,
                   capture_output=True)


def test_a_big_folder_is_listed_by_one_ls_tree_and_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past BIG_FOLDER entries git lists faster than a walk in Python: one process, once."""
    from kops_gitsync.gitrepo.trees import BIG_FOLDER

    root = tmp_path / "big"
    for i in range(BIG_FOLDER + 2):
        (root / "state" / f"c{i:03d}").mkdir(parents=True)
        (root / "state" / f"c{i:03d}" / "config").write_text(f"{i}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "big")
    repo = GitRepo.open(root)
    commit = repo.resolve("HEAD")
    assert commit is not None
    spawned: list[list[str]] = []
    real = gitproc.spawn
    monkeypatch.setattr(gitproc, "spawn", lambda a, *r, **k: spawned.append(a) or real(a, *r, **k))
    first = repo.read_tree(commit, "state")
    again = repo.read_tree(commit, "state")
    assert first == again == ls_tree(root, commit, "state")
    assert [a[0] for a in spawned] == ["ls-tree"]


@pytest.mark.parametrize("key", ["state/.git/config", "state/.GIT./x", "state/git~1/x",
                                 "state/.git /x", "state/a/../b"])
def test_a_path_git_refuses_is_still_judged_by_git(odd_repo: tuple[GitRepo, str], key: str) -> None:
    """A hostile store key is handed to git's own check (which leaves it out), never
    written into a tree here."""
    repo, commit = odd_repo
    blob = repo.write_blob(b"x\n")
    got = repo.build_tree(commit, {key: blob, "state/fine": blob})
    assert got == index_route(repo.root, commit, {key: blob, "state/fine": blob})
    listed = git(repo.root, "ls-tree", "-r", "--name-only", got)
    assert "state/fine" in listed.split("\n") and key not in listed


def test_the_first_parent_chain_of_a_shallow_clone_stops_where_git_stops(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    git(full, "init", "-q", "-b", "main")
    for i in range(4):
        (full / "f").write_text(f"{i}\n")
        git(full, "add", "f")
        git(full, "commit", "-qm", f"c{i}")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{full}", str(shallow))
    repo = GitRepo.open(shallow)
    assert repo.first_parent_chain("HEAD") == git(
        shallow, "rev-list", "--first-parent", "HEAD").split()
    assert len(repo.first_parent_chain("HEAD")) == 2
    repo_full = GitRepo.open(full)
    assert repo_full.first_parent_chain("HEAD", limit=3) == git(
        full, "rev-list", "--first-parent", "--max-count=3", "HEAD").split()
