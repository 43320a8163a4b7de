"""The daemon as a real subprocess: a review repo in a temp dir, real stores, its JSON log.

Every wait here is a deadline on something the daemon must eventually do (a commit, a
write, a log line), never a measurement: speed lives in benchmarks/bench_daemon.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_STORES

CLUSTER = "minimal-aws.example.com"
DEADLINE = 45.0  # generous: the machine is shared by several test runs


def git(repo: Path, *args: str) -> str:
    """Run git, retrying while the daemon holds the index lock for a moment."""
    for _attempt in range(50):
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout
        if "index.lock" not in done.stderr:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        time.sleep(0.1)
    raise AssertionError(f"git {' '.join(args)}: index.lock never went away")


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def yaml_config(stores: list[dict[str, Any]]) -> str:
    """.kops-gitsync.yaml text (JSON is YAML, and needs no dumper)."""
    return json.dumps({"stores": stores}, indent=2) + "\n"


def make_repo(path: Path, stores: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".kops-gitsync.yaml").write_text(yaml_config(stores))
    git(path, "add", ".kops-gitsync.yaml")
    git(path, "commit", "-q", "-m", "kops-gitsync config")
    return path


def copy_fixture_store(dest: Path, case: str = "minimal-aws") -> Path:
    shutil.copytree(FIXTURE_STORES / case, dest)
    return dest


def pull_commits(repo: Path, store: str) -> list[str]:
    out = git(repo, "log", "--format=%H", f"--grep=Kops-Gitsync-Store: {store}",
              "--grep=Kops-Gitsync-Operation: pull", "--all-match",
              f"refs/kops-gitsync/observed/{store}")
    return out.split()


@dataclass
class DaemonProc:
    proc: subprocess.Popen[bytes]
    log: Path
    repo: Path
    seen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines()
        parsed = []
        for line in lines:
            if line.startswith("{"):
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    continue
        return parsed

    def wait_event(self, what: str, timeout: float = DEADLINE, after: int = 0,
                   **match: Any) -> dict[str, Any]:
        """The first event (from index ``after``) whose fields equal ``match``."""

        def find() -> dict[str, Any] | None:
            if self.proc.poll() is not None and not self.has_event(after, match):
                raise AssertionError(
                    f"daemon exited ({self.proc.returncode}) before {what}:\n{self.text()}")
            for event in self.events()[after:]:
                if all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        try:
            found: dict[str, Any] = wait_for(find, what, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnosis()}") from None
        return found

    def diagnosis(self) -> str:
        """The log with every thread's stack (SIGUSR1) and the state file, for a failure."""
        if self.proc.poll() is None:
            self.send(signal.SIGUSR1)
            time.sleep(0.5)
        state = self.repo / ".git" / "kops-gitsync" / "daemon-state.json"
        state_text = state.read_text() if state.exists() else "(none)"
        return f"--- daemon log ---\n{self.text()}\n--- state file ---\n{state_text}"

    def has_event(self, after: int, match: dict[str, Any]) -> bool:
        return any(all(e.get(k) == v for k, v in match.items()) for e in self.events()[after:])

    def mark(self) -> int:
        """An index into the event list: wait_event(after=mark) ignores what came before."""
        return len(self.events())

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def send(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        return self.proc.wait(timeout)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonProc]]:
    started: list[DaemonProc] = []

    def start(repo: Path, *args: str, env: dict[str, str] | None = None,
              name: str = "daemon") -> DaemonProc:
        log = tmp_path / f"{name}-{len(started)}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kops_gitsync", "daemon", "--repo", str(repo),
                 "--log-format", "json", "--fetch-interval", "0", *args],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        daemon = DaemonProc(proc, log, repo)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(10)
