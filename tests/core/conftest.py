"""Helpers for driving kops-gitsync the way a user does: real git repos in temp dirs, the
CLI entry point, and file:// copies of the shared fixture stores."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from tests.conftest import FIXTURE_STORES


@dataclass
class Run:
    code: int
    out: str
    err: str


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path (the byte-for-byte view of a store)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    def run(*args: str, cwd: Path | None = None) -> Run:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "review"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("review repo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "initial")
    return path


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[[str], Path]:
    """A writable file:// copy of a shared fixture store."""

    def make(name: str = "minimal-aws") -> Path:
        target = tmp_path / f"store-{name}"
        shutil.copytree(FIXTURE_STORES / name, target)
        for path in [target, *target.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return target

    return make


@pytest.fixture
def pulled(
    repo: Path,
    make_store: Callable[[str], Path],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, Path]:
    """A review repo that has pulled a writable copy of minimal-aws (KOPS_STATE_STORE set)."""
    store = make_store("minimal-aws")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{store}")
    assert cli("pull", cwd=repo).code == 0
    return repo, store
