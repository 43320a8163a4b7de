"""The only place the sync engine talks to git.

Observed store states are built with plumbing (blobs, a throw-away index, ``write-tree``,
``commit-tree``, ``update-ref`` with the old value) so a pull never touches the working
tree, the real index or HEAD until the final, ordinary ``git merge``. Everything a user
could be in the middle of (an edit, a merge, a rebase) is therefore safe until that merge,
and the merge itself refuses to clobber anything.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo import gitproc
from kops_gitsync.gitrepo.blobs import BlobWriter, write_loose
from kops_gitsync.gitrepo.gitconfig import GitConfig
from kops_gitsync.gitrepo.logquery import LogQueries
from kops_gitsync.gitrepo.trees import Entry, Trees, parse_ls_tree, plain_path
from kops_gitsync.gitrepo.trees import TreeEntry as TreeEntry  # re-exported: callers import it here

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_SHA = re.compile(r"^[0-9a-f]{40}$")
# An ancestry question is first answered by walking this many commits through cat-file;
# past that (a long history between the two), ``git merge-base`` answers it.
_WALK = 64
# Where a path led, once per process: the CLI and the daemon open the same repository twice.
_DISCOVERED: dict[tuple[str, bool], tuple[Path, Path, Path]] = {}


@dataclass(frozen=True)
class MergeOutcome:
    fast_forward: bool
    conflicts: tuple[str, ...] = ()
    refused: str | None = None  # git's reason when it would not start the merge

    @property
    def ok(self) -> bool:
        return not self.conflicts and self.refused is None


class GitRepo(LogQueries):
    def __init__(self, root: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.git = gitproc.GitCommands(root)
        self._objects = gitproc.CatFile(root)
        self._files: dict[tuple[str, str], bytes | None] = {}
        self._trees = Trees(self._objects, common_dir / "objects")
        self._parents: dict[str, tuple[str, ...]] = {}
        self._config = GitConfig(root, git_dir, common_dir)

    @classmethod
    def open(cls, path: Path | None) -> GitRepo:
        where = path or Path.cwd()
        key = (str(where), path is None)
        found = _DISCOVERED.get(key)
        if found is None:
            found = _DISCOVERED[key] = gitproc.discover(where, search=path is None)
        return cls(*found)

    def close(self) -> None:
        """End the cat-file process now rather than when the object is collected."""
        self._objects.close()

    # --- refs and commits -------------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        if rev in self._parents:  # a commit id read before: it names itself for good
            return rev
        found = self._objects.get(f"{rev}^{{commit}}")
        return found[0] if found is not None and found[1] == "commit" else None

    def current_branch(self) -> str | None:
        """The checked-out branch, read from ``HEAD`` as git itself does (no process)."""
        try:
            head = (self.git_dir / "HEAD").read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            head = ""
        head = head.strip()
        if head.startswith("ref: refs/heads/") and head != "ref: refs/heads/.invalid":
            return head[len("ref: refs/heads/"):]
        if _SHA.match(head):
            return None  # detached
        done = gitproc.run(["symbolic-ref", "-q", "--short", "HEAD"], self.root)  # reftable
        return done.stdout.decode("utf-8", "surrogateescape").strip() or None

    def head_commit(self) -> str | None:
        return self.resolve("HEAD")

    def _out(self, *args: str) -> str | None:
        """stdout of a git command, None when git says no (missing ref, unset config)."""
        done = gitproc.run(list(args), self.root)
        return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None

    def default_branch(self) -> str:
        """origin/HEAD if a remote says so, else init.defaultBranch, else main or master."""
        try:  # a symbolic ref is a file (never packed); read it as git does, no process
            remote_head = (self.common_dir / "refs/remotes/origin/HEAD").read_text().strip()
        except OSError:
            remote_head = ""
        if (self.common_dir / "reftable").exists():
            remote_head = (self._out("symbolic-ref", "-q", "refs/remotes/origin/HEAD")
                           or "").strip()
        if remote_head.startswith("ref: "):
            remote_head = remote_head[5:]
        if remote_head.startswith("refs/remotes/origin/"):
            return remote_head[len("refs/remotes/origin/"):]
        configured = self.config_get("init.defaultBranch")
        if configured:
            return configured[-1].strip()
        return "master" if self.resolve("refs/heads/master") and not self.resolve(
            "refs/heads/main"
        ) else "main"

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """``git merge-base --is-ancestor``, usually without a process: the commits just
        below ``descendant`` (where a store state merged a moment ago is) are walked through
        cat-file first; only a longer history asks ``merge-base``."""
        target, start = self.resolve(ancestor), self.resolve(descendant)
        if target is None or start is None:
            return False
        seen, queue = {start}, deque([start])
        for _ in range(_WALK):
            if not queue:
                return False  # the whole history below ``descendant`` was seen
            commit = queue.popleft()
            if commit == target:
                return True
            for parent in self._parents_or_none(commit) or []:
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        done = gitproc.run(["merge-base", "--is-ancestor", target, start], self.root)
        return done.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits; None for unrelated histories."""
        out = self._out("merge-base", a, b)
        return out.split()[0] if out and out.strip() else None

    def first_parent_chain(self, tip: str, limit: int = 200) -> list[str]:
        """``rev-list --first-parent --max-count=LIMIT TIP``, walked through cat-file; in a
        shallow clone (or with grafts) git's own answer, which stops where history is cut."""
        grafted = any((self.common_dir / f).exists() for f in ("shallow", "info/grafts"))
        commit = None if grafted else self.resolve(tip)
        if commit is None:
            out: str = self.git.rev_list("--first-parent", f"--max-count={limit}", tip)
            return out.split()
        chain: list[str] = []
        while commit is not None and len(chain) < limit:
            chain.append(commit)
            parents = self.parents(commit)
            commit = parents[0] if parents else None
        return chain

    def _commit(self, commit: str) -> tuple[list[str], str] | None:
        """Parents and message of a commit object, read through cat-file."""
        found = self._objects.get(f"{commit}^{{commit}}")
        if found is None or found[1] != "commit":
            return None
        headers, _, message = found[2].partition(b"\n\n")
        parents = [line[7:].decode() for line in headers.split(b"\n")
                   if line.startswith(b"parent ")]
        if found[0] == commit:  # a commit's own id (not a tag's, not a ref): remembered
            if len(self._parents) >= 100_000:
                self._parents.clear()
            self._parents[commit] = tuple(parents)
        return parents, message.decode("utf-8", "replace")

    def _parents_or_none(self, commit: str) -> list[str] | None:
        """Parents of a commit; remembered by commit id (a commit cannot change), so the
        ancestry walks of one push read each commit once."""
        known = self._parents.get(commit)
        if known is not None:
            return list(known)
        found = self._commit(commit)
        return found[0] if found is not None else None

    def parents(self, commit: str) -> list[str]:
        found = self._parents_or_none(commit)
        if found is None:
            raise FatalError(f"git has no commit {commit}")
        return found

    def commit_message(self, commit: str) -> str:
        found = self._commit(commit)
        if found is None:
            raise FatalError(f"git has no commit {commit}")
        return found[1]

    def update_ref(self, ref: str, new: str, old: str | None, reason: str) -> None:
        """Move ``ref`` only if it still points at ``old`` (None: only if it does not exist)."""
        done = gitproc.run(["update-ref", "-m", reason, ref, new, old or "0" * 40], self.root)
        if done.returncode != 0:
            raise FatalError(
                f"{ref} moved while kops-gitsync was working (another pull or push?); "
                f"nothing was lost, run the command again: "
                f"{done.stderr.decode('utf-8', 'replace').strip()}"
            )

    # --- configuration and remotes -----------------------------------------------------

    def config_get(self, key: str) -> list[str]:
        """Every value of a git config key (empty when unset)."""
        return self._config.get_all(key)

    def fetch(self, remote: str, *refspecs: str) -> None:
        self.git.fetch("--quiet", "--no-tags", remote, *refspecs)

    def push_refs(self, remote: str, *refspecs: str) -> None:
        """Non-forced ``git push``; raises GitCommandError when the remote refuses."""
        self.git.push("--quiet", "--porcelain", remote, *refspecs)

    # --- trees and blobs --------------------------------------------------------------

    def read_tree(self, commit: str | None, prefix: str) -> dict[str, TreeEntry]:
        """Every file below ``prefix`` at ``commit``, keyed by path relative to ``prefix``
        (``ls-tree -r``; read through cat-file unless the folder is big, see :class:`Trees`)."""
        if commit is None:
            return {}
        root = self._objects.get(f"{commit}^{{tree}}") if plain_path(prefix) else None
        if root is not None and root[1] == "tree":
            return self._trees.files(root[0], prefix, lambda: self._ls_tree(commit, prefix))
        return self._ls_tree(commit, prefix)

    def _ls_tree(self, commit: str, prefix: str) -> dict[str, TreeEntry]:
        out: bytes = self.git.ls_tree(
            "-r", "-z", "--full-tree", commit, "--", prefix, stdout_as_string=False
        )
        return parse_ls_tree(out, prefix)

    def read_blob(self, sha: str) -> bytes:
        found = self._objects.get(sha)
        if found is None or found[1] != "blob":
            raise FatalError(f"git has no blob {sha}")
        return found[2]

    def read_file(self, commit: str | None, path: str) -> bytes | None:
        """A file of a commit (None if absent); remembered for a commit id, which cannot
        change, so the sync state read by several steps of one pull is read once."""
        if commit is None:
            return None
        key = (commit, path)
        if key in self._files:
            return self._files[key]
        found = self._objects.get(f"{commit}:{path}")
        data = found[2] if found is not None and found[1] == "blob" else None
        if _SHA.match(commit):
            if len(self._files) >= 8:
                self._files.clear()
            self._files[key] = data
        return data

    def write_blobs(self, blobs: list[bytes]) -> list[str]:
        """Store many blobs: see :class:`BlobWriter`."""
        with self.blob_writer() as writer:
            return [writer.add(data) for data in blobs]

    def write_blob(self, data: bytes) -> str:
        """Store one blob as a loose object, in-process (a git process costs ~3 ms)."""
        return write_loose(self.common_dir / "objects", data)

    def blob_writer(self) -> BlobWriter:
        """A writer that stores blobs as they come (see :class:`BlobWriter`)."""
        return BlobWriter(self.root, self.common_dir / "objects")

    def build_tree(self, base_commit: str | None, changes: Mapping[str, str | None]) -> str:
        """A tree: ``base_commit``'s tree with paths set to blobs (sha) or removed (None).

        Tree objects are written in-process (:meth:`Trees.write`); a change that needs
        git's own judgement goes through a private index file, so the user's index and
        working tree are never touched.
        """
        root = self._objects.get(f"{base_commit}^{{tree}}") if base_commit else None
        if base_commit is None or (root is not None and root[1] == "tree"):
            written = self._trees.write(root[0] if root is not None else None, changes)
            if written is not None:
                return written
        fd, index_path = tempfile.mkstemp(prefix="kops-gitsync-index-", dir=self.git_dir)
        os.close(fd)
        os.unlink(index_path)
        env = {"GIT_INDEX_FILE": index_path}
        try:
            self.git.read_tree(base_commit or EMPTY_TREE, env=env)
            records = []
            for path, sha in sorted(changes.items()):
                if sha is None:
                    records.append(f"0 {'0' * 40}\t{path}")
                else:
                    records.append(f"100644 {sha}\t{path}")
            if records:
                payload = ("\0".join(records) + "\0").encode("utf-8", "surrogateescape")
                self._run(["update-index", "-z", "--index-info"], payload, env)
            tree: str = self.git.write_tree(env=env)
            return tree.strip()
        finally:
            if os.path.exists(index_path):
                os.unlink(index_path)

    def commit_tree(
        self, tree: str, parents: Iterable[str], message: str,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """``env``: e.g. ``GIT_AUTHOR_DATE`` for a commit that records a past moment."""
        args: list[str] = []
        for parent in parents:
            args += ["-p", parent]
        return self._run(["commit-tree", tree, *args], message.encode(), env).decode().strip()

    def _run(self, args: list[str], stdin: bytes, env: Mapping[str, str] | None = None) -> bytes:
        """git with bytes on stdin; a failure is a FatalError naming the command."""
        done = gitproc.run(args, self.root, stdin, env)
        if done.returncode != 0:
            raise FatalError(f"git {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def tree_entries(self, tree: str) -> list[Entry]:
        """The entries (raw mode, name, id) of tree object ``tree``, read through cat-file."""
        return [] if tree == EMPTY_TREE else self._trees.entries(tree)

    def tree_of(self, commit: str) -> str:
        found = self._objects.get(f"{commit}^{{tree}}")
        if found is None:
            raise FatalError(f"git has no commit {commit}")
        return found[0]

    # --- working tree -----------------------------------------------------------------

    def dirty_paths(self, paths: Iterable[str]) -> list[str]:
        """Uncommitted changes (staged, unstaged or untracked) below any of ``paths``."""
        # status refreshes the index's stat data (and writes it when it changed): the
        # two-tree read-tree of a merge that follows refuses entries it cannot trust.
        out: str = self.git.status("--porcelain", "--untracked-files=all", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]

    def operation_in_progress(self) -> str | None:
        for marker, name in (
            ("MERGE_HEAD", "a merge"),
            ("rebase-merge", "a rebase"),
            ("rebase-apply", "a rebase or am"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
        ):
            if (self.git_dir / marker).exists():
                return name
        return None

    def merge(self, commit: str, message: str) -> MergeOutcome:
        """Merge ``commit`` into HEAD (fast-forward when possible); on conflict, back out."""
        before = self.head_commit()
        done = gitproc.run(["merge", "--no-verify", "--no-edit", "--allow-unrelated-histories",
                            "-m", message, commit], self.root)
        if done.returncode != 0:
            conflicts_out = self._out("diff", "--name-only", "--diff-filter=U") or ""
            conflicts = tuple(conflicts_out.strip().split("\n")) if conflicts_out.strip() else ()
            if (self.git_dir / "MERGE_HEAD").exists():
                self._run(["merge", "--abort"], b"")
            if conflicts:
                return MergeOutcome(fast_forward=False, conflicts=conflicts)
            reason = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            return MergeOutcome(fast_forward=False, refused=reason or "git merge failed")
        after = self.head_commit()
        fast_forward = before is None or (after is not None and self.resolve(f"{after}^2") is None)
        return MergeOutcome(fast_forward=fast_forward)
