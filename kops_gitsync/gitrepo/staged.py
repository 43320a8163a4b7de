"""The git facts a hook needs, read with plain ``git`` subprocesses.

The hooks run on every commit, so they avoid GitPython (``gitrepo/repo.py``): importing it
alone costs more than the whole check. Every function here is one or two ``git`` calls, and
blobs are read in one ``git cat-file --batch`` per request, never one process per file.

Hooks read the *index*, not the working tree: the index is what the commit will contain, and
the plain git hooks (unlike pre-commit) do not stash unstaged edits away.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kops_gitsync.errors import FatalError

ZERO_SHA = "0" * 40
OBSERVED_PREFIX = "refs/kops-gitsync/observed/"
# The tree of an empty repository: what a first commit is compared against.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class PushRef:
    """One line git gives a pre-push hook on stdin."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def remote_branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.remote_ref[len(prefix) :] if self.remote_ref.startswith(prefix) else None

    @property
    def deletes(self) -> bool:
        return self.local_sha == ZERO_SHA


def git(args: Sequence[str], cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    """Run git and return stdout; a failure becomes a FatalError naming the command."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise FatalError(f"git {' '.join(args[:2])} failed: {message}")
    return proc.stdout


def _git_ok(args: Sequence[str], cwd: Path | None) -> bytes | None:
    """stdout, or None when git says no (missing ref, unset config)."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _split_z(raw: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0") if p]


def repo_root(cwd: Path | None = None) -> Path:
    out = _git_ok(["rev-parse", "--show-toplevel"], cwd)
    if out is None:
        raise FatalError("not inside a git work tree")
    return Path(out.decode().strip())


def resolve(rev: str, cwd: Path) -> str | None:
    """The commit id of ``rev``, or None if it does not exist (e.g. HEAD before a commit)."""
    out = _git_ok(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], cwd)
    return out.decode().strip() if out else None


def head_or_empty_tree(cwd: Path) -> str:
    return resolve("HEAD", cwd) or EMPTY_TREE


def staged_paths(cwd: Path) -> list[str]:
    """Paths the next commit adds, changes or deletes (a merge: everything it changes)."""
    raw = git(
        ["diff", "--cached", "--name-only", "-z", "--no-renames", head_or_empty_tree(cwd)], cwd
    )
    return _split_z(raw)


def changed_between(old: str, new: str, cwd: Path) -> list[str]:
    return _split_z(git(["diff", "--name-only", "-z", "--no-renames", old, new], cwd))


def index_paths(cwd: Path, pathspecs: Sequence[str] = ()) -> list[str]:
    return _split_z(git(["ls-files", "-z", "--", *pathspecs], cwd))


def _cat_blobs(entries: Iterable[tuple[str, str]], cwd: Path) -> dict[str, bytes]:
    """Read many blobs in one ``git cat-file --batch``; entries are (path, blob id)."""
    pairs = list(entries)
    if not pairs:
        return {}
    request = "".join(f"{sha}\n" for _, sha in pairs).encode()
    out = git(["cat-file", "--batch"], cwd, stdin=request)
    blobs: dict[str, bytes] = {}
    pos = 0
    for path, _ in pairs:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if len(header) < 3 or header[1] == b"missing":
            raise FatalError(f"git cat-file: object for {path} is missing")
        size = int(header[2])
        start = header_end + 1
        blobs[path] = out[start : start + size]
        pos = start + size + 1
    return blobs


def _parse_entries(raw: bytes, sha_field: int) -> list[tuple[str, str]]:
    """(path, blob id) from ``ls-files -s -z`` (sha field 1) or ``ls-tree -r -z`` (2)."""
    entries = []
    for record in raw.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        fields = meta.split()
        if fields[0] == b"160000" or (sha_field == 2 and fields[1] != b"blob"):
            continue  # submodules and trees have no bytes to check
        entries.append((path.decode("utf-8", "surrogateescape"), fields[sha_field].decode()))
    return entries


def index_blobs(pathspecs: Sequence[str], cwd: Path) -> dict[str, bytes]:
    """Staged content of every index entry under ``pathspecs`` (stage 0 only)."""
    if not pathspecs:
        return {}
    # Literal: a file named "nodes[1]" or "*" must not act as a pattern.
    raw = git(["--literal-pathspecs", "ls-files", "-s", "-z", "--", *pathspecs], cwd)
    return _cat_blobs(_parse_entries(raw, 1), cwd)


def tree_blobs(rev: str | None, pathspecs: Sequence[str], cwd: Path) -> dict[str, bytes]:
    """Content of every file under ``pathspecs`` in commit ``rev`` (empty if rev is None)."""
    if rev is None or not pathspecs:
        return {}
    raw = git(
        ["--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", rev, "--", *pathspecs], cwd
    )
    return _cat_blobs(_parse_entries(raw, 2), cwd)


def merge_heads(cwd: Path) -> list[str]:
    """The commits being merged, while a merge is being committed.

    After a conflict, ``git commit`` finds them in MERGE_HEAD. But git runs the
    ``pre-merge-commit`` hook *before* it writes MERGE_HEAD; there the only trace is
    GIT_REFLOG_ACTION, which ``git merge`` sets to ``merge <the commits as named>``.
    """
    head = resolve("MERGE_HEAD", cwd)
    if head is not None:
        out = git(["rev-parse", "--git-path", "MERGE_HEAD"], cwd).decode().strip()
        path = Path(out) if Path(out).is_absolute() else cwd / out
        return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    action = os.environ.get("GIT_REFLOG_ACTION", "")
    if not action.startswith("merge "):
        return []
    heads = (resolve(name, cwd) for name in action.split()[1:])
    return [h for h in heads if h is not None]


def current_branch(cwd: Path) -> str | None:
    """Short branch name, or None on a detached HEAD."""
    out = _git_ok(["symbolic-ref", "-q", "--short", "HEAD"], cwd)
    return out.decode().strip() if out else None


def default_branch(cwd: Path) -> str:
    """origin/HEAD, else init.defaultBranch, else whichever of main/master exists."""
    out = _git_ok(["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"], cwd)
    if out:
        return out.decode().strip().removeprefix("origin/")
    out = _git_ok(["config", "--get", "init.defaultBranch"], cwd)
    if out and out.strip():
        return out.decode().strip()
    for name in ("main", "master"):
        if resolve(f"refs/heads/{name}", cwd):
            return name
    return "main"


def observed_tips(cwd: Path) -> list[str]:
    """Tips of every ``refs/kops-gitsync/observed/*`` ref (the pulled store states)."""
    raw = git(["for-each-ref", "--format=%(objectname)", OBSERVED_PREFIX], cwd)
    return raw.decode().split()


def is_ancestor(ancestor: str, descendant: str, cwd: Path) -> bool:
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", ancestor, descendant],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def parse_push_lines(text: str) -> list[PushRef]:
    """The ``<local ref> <local sha> <remote ref> <remote sha>`` lines of pre-push stdin."""
    refs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            refs.append(PushRef(*parts))
    return refs


def pushed_paths(ref: PushRef, remote: str | None, cwd: Path) -> list[str]:
    """Paths a push changes on its remote branch.

    For a new remote branch there is no old tip to compare with, so every path touched by a
    commit the remote does not have yet counts (as pre-commit does it).
    """
    if ref.deletes:
        return []
    if ref.remote_sha != ZERO_SHA and resolve(ref.remote_sha, cwd):
        return changed_between(ref.remote_sha, ref.local_sha, cwd)
    not_remote = [f"--remotes={remote}"] if remote else ["--remotes"]
    raw = git(
        [
            "log",
            "--format=",
            "--name-only",
            "-z",
            "--no-renames",
            ref.local_sha,
            "--not",
            *not_remote,
        ],
        cwd,
    )
    return sorted(set(_split_z(raw.replace(b"\n", b"\0"))))


def git_dir(cwd: Path) -> Path:
    out = git(["rev-parse", "--absolute-git-dir"], cwd)
    return Path(out.decode().strip())


def hooks_dir(cwd: Path) -> Path:
    """Where git looks for hooks (honours core.hooksPath)."""
    out = git(["rev-parse", "--git-path", "hooks"], cwd).decode().strip()
    path = Path(out)
    return path if path.is_absolute() else (cwd / path).resolve()
