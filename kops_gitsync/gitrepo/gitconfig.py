"""git config values without a process per key.

A daemon pass asks for a handful of keys (the review remote, the default branch), and each
``git config --get`` was a process. One ``git config --list -z`` is read instead, and read
again only when a file it came from (or a ``GIT_CONFIG*`` variable) changed. Files pulled in
by ``[include]`` are not watched: a change there is seen when the repository's own config
changes, or by the next process.
"""

from __future__ import annotations

import os
from pathlib import Path

from kops_gitsync.gitrepo import gitproc


def _config_key(key: str) -> str:
    """A config key as git compares it: section and name ignore case, a subsection not."""
    section, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    return f"{section.lower()}.{middle + '.' if middle else ''}{name.lower()}"


class GitConfig:
    def __init__(self, root: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self._cache: tuple[tuple[object, ...], dict[str, list[str]]] | None = None

    def get_all(self, key: str) -> list[str]:
        """Every non-empty value of ``key``, in git's order (empty when unset)."""
        return [v for v in self._values().get(_config_key(key), []) if v.strip()]

    def _values(self) -> dict[str, list[str]]:
        """Every config value, from one ``git config --list`` while the files that hold
        them are unchanged: a daemon pass asks for a handful of keys, each was a process."""
        stamp = self._config_stamp()
        if self._cache is None or self._cache[0] != stamp:
            out = gitproc.run(["config", "--list", "-z"], self.root).stdout
            values: dict[str, list[str]] = {}
            for entry in out.decode("utf-8", "surrogateescape").split("\0"):
                name, newline, value = entry.partition("\n")
                if name and newline:
                    values.setdefault(_config_key(name), []).append(value)
            self._cache = (stamp, values)
        return self._cache[1]

    def _config_stamp(self) -> tuple[object, ...]:
        home = Path(os.environ.get("HOME", "~")).expanduser()
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        files = [self.common_dir / "config", self.git_dir / "config.worktree",
                 home / ".gitconfig", xdg / "git" / "config", Path("/etc/gitconfig")]
        stamp: list[object] = [v for k, v in sorted(os.environ.items())
                               if k.startswith("GIT_CONFIG")]
        for path in files:
            try:
                info = path.stat()
                stamp.append((info.st_mtime_ns, info.st_size, info.st_ino))
            except OSError:
                stamp.append(None)
        return tuple(stamp)
