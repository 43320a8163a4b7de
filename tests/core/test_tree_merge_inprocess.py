"""The in-process three-way tree merge (gitrepo/treemerge.py) gives what git's
``read-tree -m --aggressive`` route gives: the same tree id, the same resolver calls, the
same conflicts; and it starts no git process for a mirror's plain files."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.gitrepo import gitproc, treemerge
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.gitrepo.treemerge import Conflict, merge_trees
from tests.core.conftest import git

Files = Mapping[str, str | None]  # path -> text, None: removed


def commit(root: Path, files: Files, message: str, parent: str | None = None) -> str:
    if parent is not None:
        git(root, "checkout", "-q", "--detach", parent)
    for path, text in files.items():
        target = root / path
        if text is None:
            target.unlink()
        elif text == "EXEC":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("exec\n")
            os.chmod(target, 0o755)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def both_routes(tmp_path: Path, base: Files, ours: Files, theirs: Files) -> tuple[Any, ...]:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    b = commit(root, base, "base")
    o = commit(root, ours, "ours", b)
    t = commit(root, theirs, "theirs", b)
    calls: list[list[tuple[str, str | None, str | None, str | None]]] = [[], []]

    def resolver(record: list[Any]) -> Callable[..., str | Conflict | None]:
        def resolve(path: str, bb: str | None, oo: str | None, tt: str | None) -> Any:
            record.append((path, bb, oo, tt))
            if path.endswith("conflict"):
                return Conflict(path, "both changed")
            return tt  # the store's side wins, like the sync state
        return resolve

    repo = GitRepo.open(root)
    try:
        mine = merge_trees(repo, b, o, t, resolver(calls[0]))
        gits = treemerge._merge_in_index(repo, b, o, t, resolver(calls[1]))
    finally:
        repo.close()
    assert calls[0] == calls[1]
    assert mine == gits
    return mine, calls[0]


def test_disjoint_and_overlapping_changes(tmp_path: Path) -> None:
    base = {"state/c1/config": "1\n", "state/c1/ig/a": "a\n", "state/c2/config": "2\n",
            "state/c2/ig/b": "b\n", "state/c3/x": "x\n", ".kops-gitsync/s.json": "{}\n"}
    ours = {"state/c1/config": "1 ours\n", "state/c3/x": None, "state/c4/new": "n\n",
            ".kops-gitsync/s.json": "{1}\n", "state/c2/ig/same": "same\n"}
    theirs = {"state/c2/config": "2 theirs\n", "state/c2/ig/b": None, "state/c5/y": "y\n",
              ".kops-gitsync/s.json": "{2}\n", "state/c2/ig/same": "same\n",
              "state/c1/ig/a": "a theirs\n"}
    merged, calls = both_routes(tmp_path, base, ours, theirs)
    assert merged.tree is not None
    assert [c[0] for c in calls] == [".kops-gitsync/s.json"]


def test_conflicts_are_the_same(tmp_path: Path) -> None:
    base: Files = {"state/c1/conflict": "0\n", "state/c1/keep": "k\n"}
    merged, _calls = both_routes(
        tmp_path, base, {"state/c1/conflict": "ours\n", "state/added-conflict": "o\n"},
        {"state/c1/conflict": "theirs\n", "state/added-conflict": "t\n", "state/c1/keep": None})
    assert merged.tree is None
    assert [c.path for c in merged.conflicts] == ["state/added-conflict", "state/c1/conflict"]


@pytest.mark.parametrize("theirs", [
    {"state/c1/run": "EXEC"},  # a mode git must judge
    {"state/c1/file": None, "state/c1/file/inside": "now a folder\n"},  # file -> folder
])
def test_what_git_must_judge_goes_through_git(tmp_path: Path, theirs: Files,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[str] = []
    real = gitproc.spawn

    def counting(args: list[str], *rest: Any, **kw: Any) -> Any:
        spawned.append(args[0])
        return real(args, *rest, **kw)

    monkeypatch.setattr(gitproc, "spawn", counting)
    both_routes(tmp_path, {"state/c1/file": "f\n", "state/c1/run": "r\n"},
                {"state/c2/other": "o\n"}, theirs)
    assert spawned.count("read-tree") == 2  # both merges went through git's index


def test_a_mirror_merge_starts_no_git_process(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    b = commit(root, {"state/c1/a": "a\n", "state/c2/b": "b\n"}, "base")
    o = commit(root, {"state/c1/a": "a2\n"}, "ours", b)
    t = commit(root, {"state/c2/b": "b2\n", "state/c3/c": "c\n"}, "theirs", b)
    repo = GitRepo.open(root)
    try:
        repo.tree_of(o)  # start cat-file before counting
        spawned: list[list[str]] = []
        real = gitproc.spawn

        def counting(args: list[str], *rest: Any, **kw: Any) -> Any:
            spawned.append(args)
            return real(args, *rest, **kw)

        monkeypatch.setattr(gitproc, "spawn", counting)
        merged = merge_trees(repo, b, o, t, lambda *a: None)
        assert spawned == []
        listing = git(root, "ls-tree", "-r", "--name-only", str(merged.tree))
    finally:
        repo.close()
    assert listing.split() == ["state/c1/a", "state/c2/b", "state/c3/c"]
