"""Hooks run through the real ``pre-commit`` program, in temporary git repositories.

This checkout is snapshotted once per session into a git repository of its own (tracked
files plus new, not-ignored ones, so uncommitted work is tested too), and every test repo
names that snapshot with ``repo:``/``rev:`` exactly as a review repository would name the
published project. ``PRE_COMMIT_HOME`` is one session directory, so pre-commit builds the
hook environment (a virtualenv with kops-gitsync installed) once, not per test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_STORES, INVALID_FIXTURES

CHECKOUT = Path(__file__).resolve().parents[2]
INVALID = INVALID_FIXTURES
ALL_HOOKS = (
    "kops-validate",
    "kops-validate-merge",
    "kops-protect-production",
    "kops-no-secrets",
    "kops-no-derived-edits",
)
STAGES = ("pre-commit", "pre-merge-commit", "pre-push")


@dataclass(frozen=True)
class Snapshot:
    path: Path
    rev: str


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """This checkout as a commit pre-commit can clone."""
    dest = tmp_path_factory.mktemp("kops-gitsync-snapshot")
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], CHECKOUT)
    for rel in filter(None, listed.split("\0")):
        source = CHECKOUT / rel
        if source.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(dest)}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    _run(["git", "init", "-q", "-b", "main"], dest, env)
    _run(["git", "add", "-A"], dest, env)
    _run(["git", *ident, "commit", "-q", "--no-verify", "-m", "snapshot"], dest, env)
    return Snapshot(dest, _run(["git", "rev-parse", "HEAD"], dest, env).strip())


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@dataclass
class Repo:
    """A review repository in a temp dir, with pre-commit installed for all three stages."""

    path: Path
    env: dict[str, str]

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(args), cwd=self.path, env=self.env, capture_output=True, text=True, input=stdin
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("git", *args, check=check)

    def write(self, rel: str, data: bytes | str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        target.write_bytes(data)
        return target

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()

    def copy_tree(self, source: Path, rel: str, keys: Iterable[str] | None = None) -> None:
        """Copy files under ``source`` to ``rel`` (only ``keys``, relative paths, if given)."""
        for path in sorted(source.rglob("*")):
            key = path.relative_to(source).as_posix()
            if path.is_file() and (keys is None or key in keys):
                self.write(f"{rel}/{key}", path.read_bytes())

    def commit(self, message: str, *, verify: bool = True) -> subprocess.CompletedProcess[str]:
        """``git add -A && git commit``; returns the process (check its returncode)."""
        self.git("add", "-A")
        args = ["commit", "-q", "-m", message] + ([] if verify else ["--no-verify"])
        return self.git(*args, check=False)

    def pre_commit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "pre_commit", *args, check=False)


MakeRepo = Callable[..., Repo]


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


def intent_keys(store: Path) -> list[str]:
    """config and instancegroup/* of every cluster in a fixture store."""
    keys = []
    for path in sorted(store.rglob("*")):
        key = path.relative_to(store).as_posix()
        parts = key.split("/")
        if path.is_file() and (
            parts[1:] == ["config"] or (len(parts) == 3 and parts[1] == "instancegroup")
        ):
            keys.append(key)
    return keys


@pytest.fixture
def make_repo(tmp_path: Path, snapshot: Snapshot, pre_commit_home: Path) -> Iterator[MakeRepo]:
    """``make_repo(hooks=ALL_HOOKS, config=None)`` -> a Repo with pre-commit installed."""

    def factory(
        hooks: Iterable[str] = ALL_HOOKS, config: str | None = None, name: str = "repo"
    ) -> Repo:
        path = tmp_path / name
        path.mkdir()
        env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
        env.pop("PRE_COMMIT", None)
        repo = Repo(path, env)
        repo.git("init", "-q", "-b", "main")
        hook_lines = "".join(f"  - id: {hook}\n" for hook in hooks)
        repo.write(
            ".pre-commit-config.yaml",
            f"repos:\n- repo: {snapshot.path}\n  rev: {snapshot.rev}\n  hooks:\n{hook_lines}",
        )
        if config is not None:
            repo.write(".kops-gitsync.yaml", config)
        repo.pre_commit("install", "-t", "pre-commit", "-t", "pre-merge-commit", "-t", "pre-push")
        repo.git("add", "-A")
        repo.git("commit", "-q", "--no-verify", "-m", "hooks")
        return repo

    yield factory


def fixture_store(name: str) -> Path:
    return FIXTURE_STORES / name
