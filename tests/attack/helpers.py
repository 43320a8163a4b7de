"""What every attack test needs: the CLI called in-process with its output captured, small
kops stores written from scratch, and a byte-for-byte snapshot of a directory.

The hypothesis tests cannot use pytest's function-scoped fixtures per example, so each
example builds its own repo and store below a fresh temporary root and checks that nothing
outside the repo and the store changed.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kops_gitsync.cli.main import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "stores" / "minimal-aws"
CLUSTER = "minimal-aws.example.com"
CONFIG = f"{CLUSTER}/config"
NODES = f"{CLUSTER}/instancegroup/nodes"
MASTER = f"{CLUSTER}/instancegroup/master-us-test-1a"
# A cluster that passes kops' checks (push validates before it takes the lock).
VALID_OBJECTS = {key: (FIXTURE / key).read_bytes() for key in (CONFIG, NODES, MASTER)}
OK_CODES = {0, 1, 2}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def cli(*args: str, cwd: Path, stdin: str = "") -> Run:
    """``kops-gitsync ARGS`` in this process. An exception escaping ``main`` is returned as
    code 99 with its traceback in ``err``, so the caller's assertion shows it."""
    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        old_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:
            code = 99
            err.write(traceback.format_exc())
        finally:
            sys.stdin = old_stdin
    return Run(code, out.getvalue(), err.getvalue())


def assert_sane(run: Run, what: str) -> None:
    """The contract of every command on hostile input: 0, 1 or 2, no traceback, and a
    failure says something."""
    assert run.code in OK_CODES, f"{what}: exit {run.code}\n{run.err}"
    assert "Traceback" not in run.text, f"{what}: traceback\n{run.text}"
    if run.code != 0:  # status reports conflicts on stdout, errors go to stderr
        assert run.text.strip(), f"{what}: exit {run.code} without a message"


def git(repo: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=check, capture_output=True, text=True
    ).stdout


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("review repo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "initial")
    return path


def write_store(root: Path) -> Path:
    """A one-cluster file:// store (config and InstanceGroups of minimal-aws)."""
    for key, data in VALID_OBJECTS.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return root


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes | str]:
    """Every entry below ``root`` (files by content, links by target, others by kind),
    leaving out the top-level names in ``skip``."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(path):
                found[rel] = "link:" + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    found[rel] = handle.read()
            elif not os.path.isdir(path):
                found[rel] = "special"
            else:
                found[rel] = "dir"
    return found


class Sandbox:
    """One example's world: ``root/{repo,store,sibling,home}``. ``outside()`` is everything
    but the repo and the store, which no command may change."""

    def __init__(self, base: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="attack-", dir=base))
        self.repo = init_repo(self.root / "repo")
        self.store = self.root / "store"
        sibling = self.root / "sibling"
        sibling.mkdir()
        (sibling / "precious").write_text("must not change\n")
        (self.root / "home").mkdir()
        self._outside = self.outside()

    def outside(self) -> dict[str, bytes | str]:
        return snapshot(self.root, skip=("repo", "store"))

    def assert_untouched(self) -> None:
        now = self.outside()
        changed = sorted(k for k in set(now) | set(self._outside)
                         if now.get(k) != self._outside.get(k))
        assert not changed, f"written outside the repo and the store: {changed}"
        # and nothing in the repo lies outside it (a link or a path that escapes)
        real = os.path.realpath(self.repo)
        for dirpath, _dirs, files in os.walk(self.repo):
            for name in files:
                target = os.path.realpath(os.path.join(dirpath, name))
                assert target.startswith(real + os.sep), f"{target} escapes the repo"

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)
