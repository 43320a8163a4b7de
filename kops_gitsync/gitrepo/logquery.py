"""Questions about history that git answers as text: ``log``, ``rev-list``, ``diff-tree``.

Kept apart from repo.py, which reads and writes objects (cat-file, plumbing) and the
working tree: each method here is one git process whose output is parsed, and none of them
changes anything, so they can be read, and reasoned about for cost, on their own.
``GitRepo`` inherits them; callers use ``repo.<method>`` as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from kops_gitsync.gitrepo import gitproc


class LogQueries:
    """The read-only history questions of ``GitRepo`` (which sets ``git``)."""

    git: gitproc.GitCommands

    def changed_paths(self, old: str, new: str, prefix: str) -> dict[str, str | None]:
        """Files below ``prefix`` that differ between two commits: path -> new blob or None."""
        out: bytes = self.git.diff_tree(
            "-r", "-z", "--no-renames", old, new, "--", prefix, stdout_as_string=False
        )
        fields = out.split(b"\0")
        changes: dict[str, str | None] = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            _old_mode, _new_mode, _old_sha, new_sha, status = meta[1:].decode().split()
            changes[path.decode("utf-8", "surrogateescape")] = None if status == "D" else new_sha
        return changes

    def log_grep(self, revs: list[str], patterns: list[str]) -> str | None:
        """The first commit in topological order from ``revs`` whose message matches all
        ``patterns`` (extended regexes); children come before parents, so it is the newest."""
        out: str = self.git.log(
            "--topo-order", "-1", "--format=%H", "--all-match", "-E",
            *[f"--grep={p}" for p in patterns], *revs, "--",
        )
        return out.strip() or None

    def first_parent_grep(self, tip: str, exclude: str | None, pattern: str) -> list[str]:
        """First-parent commits from ``tip`` (not reachable from ``exclude``) whose message
        matches ``pattern`` (extended regex), newest first."""
        revs = [tip] + ([f"^{exclude}"] if exclude else [])
        out: str = self.git.rev_list("--first-parent", "-E", f"--grep={pattern}", *revs, "--")
        return out.split()

    def commits_between(self, tip: str, exclude: Iterable[str]) -> list[str]:
        """Commits reachable from ``tip`` but from none of ``exclude`` (``rev-list --not``).

        What push must vouch for itself: everything the reviewed branch does not contain.
        """
        out: str = self.git.rev_list(tip, "--not", *exclude, "--")
        return out.split()

    def path_history(self, tip: str, path: str, limit: int) -> list[tuple[str, str, str, str]]:
        """``(commit, committer date ISO 8601, status A/M/D, message)`` of the commits on
        ``tip``'s first-parent chain that changed ``path``, newest first, at most ``limit``.

        The path is literal (a store key may hold ``*`` or ``?``), renames are not followed:
        a store has no renames, only a delete and a create."""
        out: str = self.git.log(
            "--first-parent", f"--max-count={limit}", "--no-renames", "--name-status",
            "--format=%x1e%H%x1f%cI%x1f%B%x1f", tip, "--", f":(literal){path}",
        )
        found = []
        for record in out.split("\x1e")[1:]:
            commit, date, message, rest = record.split("\x1f", 3)
            status = next((line[:1] for line in rest.splitlines() if line.strip()), "M")
            found.append((commit, date, status, message))
        return found
