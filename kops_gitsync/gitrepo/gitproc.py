"""How the sync engine starts git: every git process goes through :func:`spawn`.

One way to run git keeps the process count visible (a test wraps :func:`spawn` and counts)
and cheap: a no-op pull needs one ``rev-parse`` to find the repository, one long-lived
``git cat-file --batch`` for every ref, commit and file it reads, and one ``git log`` to look
for a teammate's newer store state. GitPython was used before; importing it cost ~0.2 s per
process and its ``Repo`` started git to check the version, so the few GitPython behaviours
callers rely on (``repo.git.<command>(...)``, ``GitCommandError``) are kept by
:class:`GitCommands`, which imports ``git.exc`` only when a command has failed.
"""

from __future__ import annotations

import os
import subprocess
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kops_gitsync.errors import FatalError

# What a pipe always holds (POSIX PIPE_BUF; Linux may shrink a pipe to one page): requests
# that fit are written at once, without a thread, and cannot block on git's answers.
_PIPE_BUF = 4096


def spawn(args: list[str], cwd: Path, *, stdin: int | IO[bytes] | None,
          stdout: int | IO[bytes] | None, stderr: int | IO[bytes] | None,
          env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``git args`` in ``cwd``: the only place a git process is created."""
    return subprocess.Popen(["git", *args], cwd=cwd, stdin=stdin, stdout=stdout,
                            stderr=stderr, env=None if not env else {**os.environ, **env})


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: bytes
    stderr: bytes


def run(args: list[str], cwd: Path, stdin: bytes | None = None,
        env: Mapping[str, str] | None = None) -> Done:
    """``git args`` to completion; never raises for git's exit status."""
    proc = spawn(args, cwd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(stdin)
    return Done(proc.returncode, out, err)


class CommandFailed(Exception):
    """What a failed ``repo.git.<command>(...)`` raises, caught by this name (push's
    publish, approval's fetch) so that catching it needs no GitPython: importing ``git``
    costs ~35 ms and runs ``git version`` twice, in every process that merely *could*
    catch. The instances are GitPython's ``GitCommandError`` too (:func:`command_error`)."""

    stderr: str


def command_error(args: list[str], done: Done) -> Exception:
    """GitPython's ``GitCommandError`` that is also a :class:`CommandFailed`."""
    error = _error_class()
    return error(["git", *args], done.returncode, done.stderr.decode("utf-8", "replace"),
                 done.stdout.decode("utf-8", "replace"))


_ERROR_CLASS: list[type[Exception]] = []


def _error_class() -> type[Exception]:
    if not _ERROR_CLASS:
        from git.exc import GitCommandError

        _ERROR_CLASS.append(type("GitCommandError", (GitCommandError, CommandFailed),
                                 {"__module__": __name__}))
    return _ERROR_CLASS[0]


def discover(where: Path, search: bool) -> tuple[Path, Path, Path]:
    """Work tree, git dir and common git dir of the repository at ``where``: one rev-parse."""
    args = ["rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
            "--show-object-format", "--show-toplevel"]
    try:
        done = run(args, where)
    except (FileNotFoundError, NotADirectoryError):
        done = Done(128, b"", b"")
    lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    if lines[:1] == ["true"]:
        raise FatalError(f"{where} is a bare repository; kops-gitsync needs a working tree")
    top = Path(lines[4]) if done.returncode == 0 and len(lines) >= 5 else None
    if top is None or (not search and top.resolve() != where.resolve()):
        raise FatalError(
            f"{where} is not a git repository (run `git init` there, or pass --repo DIR)"
        )
    object_format = lines[3] if not lines[3].startswith("-") else "sha1"  # git too old
    if object_format != "sha1":
        raise FatalError(
            f"{where} uses {object_format} object names; kops-gitsync supports SHA-1 "
            "repositories only"
        )
    return top, Path(lines[1]), (where / lines[2]).resolve()


class GitCommands:
    """``repo.git.rev_list("-n1", tip)``: GitPython's calling convention, on :func:`run`."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def __getattr__(self, name: str) -> Any:
        command = name.replace("_", "-")

        def call(*args: str, env: Mapping[str, str] | None = None,
                 stdout_as_string: bool = True, strip_newline_in_stdout: bool = True) -> Any:
            argv = [command, *args]
            done = run(argv, self._root, None, env)
            if done.returncode != 0:
                raise command_error(argv, done)
            out = done.stdout
            if strip_newline_in_stdout and out.endswith(b"\n"):
                out = out[:-1]
            return out.decode("utf-8", "surrogateescape") if stdout_as_string else out

        return call


class CatFile:
    """One ``git cat-file --batch`` per repository, started on first use, kept until closed.

    Reading a ref, a commit or a file through it costs a pipe round trip instead of a
    process (~3 ms each, more on a busy machine). git re-reads refs and looks for new packs on
    every request it cannot answer, so objects written after it started are still found.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def get(self, name: str) -> tuple[str, str, bytes] | None:
        """``(sha, type, content)`` of the object ``name`` names, None if there is none."""
        if "\n" in name or not name:
            return None
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
            except BrokenPipeError:
                header = b""
            if not header:
                self._stop()
                raise FatalError(f"git cat-file stopped while reading {name}")
            fields = header.split()
            if len(fields) != 3 or fields[-1] in (b"missing", b"ambiguous"):
                return None
            size = int(fields[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)  # the newline after the content
            return fields[0].decode(), fields[1].decode(), data

    def get_many(self, names: list[str]) -> list[tuple[str, str, bytes] | None]:
        """:meth:`get` for many names in one pipelined exchange (a tree walk asks for every
        subtree of a level at once): the requests go in from a thread while the answers are
        read here, so neither side waits on a full pipe."""
        if not names:
            return []
        if any("\n" in name or not name for name in names):
            return [self.get(name) for name in names]
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None and proc.stdout is not None
            payload = "".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape")
            writer = None
            if len(payload) <= _PIPE_BUF:  # fits the pipe whatever git does: no thread
                _feed(proc.stdin, payload)
            else:
                writer = threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True)
                writer.start()
            found: list[tuple[str, str, bytes] | None] = []
            try:
                for name in names:
                    header = proc.stdout.readline()
                    if not header:
                        self._stop()
                        raise FatalError(f"git cat-file stopped while reading {name}")
                    fields = header.split()
                    if len(fields) != 3 or fields[-1] in (b"missing", b"ambiguous"):
                        found.append(None)
                        continue
                    data = proc.stdout.read(int(fields[2]))
                    proc.stdout.read(1)
                    found.append((fields[0].decode(), fields[1].decode(), data))
            finally:
                if writer is not None:
                    writer.join()
            return found

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = spawn(["cat-file", "--batch"], self._root, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self._finalizer = weakref.finalize(self, _close, self._proc)
        return self._proc

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _feed(stream: IO[bytes], payload: bytes) -> None:
    try:
        stream.write(payload)
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass  # git ended: the reader says so


def _close(proc: subprocess.Popen[bytes]) -> None:
    """End a cat-file process: it exits when its stdin closes."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
