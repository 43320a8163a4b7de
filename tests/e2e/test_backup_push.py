"""push with ``secrets: encrypt`` (file:// store): a reviewed change to an encrypted copy
reaches the store decrypted, conditionally and through the journal; the observed record
keeps it encrypted; no identity, a tampered copy or a deleted copy write nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.backup.crypt import copy_path
from tests.core.conftest import git, make_store
from tests.e2e.backup_steps import configure, keygen, needs_age
from tests.e2e.steps import cli

__all__ = ["make_store"]
SECRET = "minimal-aws.example.com/secrets/admin"


@pytest.fixture
def pulled(repo: Path, make_store: Callable[[str], Path], tmp_path: Path,
           capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    store = make_store("minimal-aws")
    identity, public = keygen(tmp_path)
    configure(repo, f"file://{store}", public)
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    return store, identity, public


def _rotate(repo: Path, public: str, data: bytes) -> None:
    sealed = subprocess.run(["age", "-r", public], input=data, check=True,
                            capture_output=True).stdout
    (repo / copy_path("prod", SECRET)).write_bytes(sealed)
    git(repo, "commit", "-qam", "rotate the admin token")


@needs_age
def test_push_writes_a_changed_copy_decrypted(
    pulled: tuple[Path, Path, str], repo: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, identity, public = pulled
    _rotate(repo, public, b"new-admin-token\n")
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    capsys.readouterr()
    assert cli(repo, "push") == 0, capsys.readouterr().err
    plan = capsys.readouterr().out
    assert SECRET in plan and "new-admin-token" not in plan
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err
    assert (store / SECRET).read_bytes() == b"new-admin-token\n"
    observed = "refs/kops-gitsync/observed/prod"
    assert git(repo, "ls-tree", "-r", "--name-only", observed, "state").count("secrets/") == 0
    assert "new-admin-token" not in git(repo, "log", "-1", "--format=%B", observed)
    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out


@needs_age
def test_push_without_identity_or_with_a_bad_copy_writes_nothing(
    pulled: tuple[Path, Path, str], repo: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, identity, public = pulled
    before = (store / SECRET).read_bytes()
    _rotate(repo, public, b"new-admin-token\n")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 1
    err = capsys.readouterr().err
    assert "KOPS_GITSYNC_AGE_IDENTITY" in err and "Traceback" not in err
    assert (store / SECRET).read_bytes() == before

    path = repo / copy_path("prod", SECRET)
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    git(repo, "commit", "-qam", "damaged")
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    assert cli(repo, "push", "--yes") == 1
    err = capsys.readouterr().err
    assert copy_path("prod", SECRET) in err and "Traceback" not in err
    assert (store / SECRET).read_bytes() == before


@needs_age
def test_status_after_an_encrypted_pull_is_in_sync(
    pulled: tuple[Path, Path, str], repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert cli(repo, "status") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "secrets/" not in out and "pki/private" not in out, out


@needs_age
def test_a_deleted_copy_deletes_nothing(
    pulled: tuple[Path, Path, str], repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    store, _identity, _public = pulled
    git(repo, "rm", "-q", copy_path("prod", SECRET))
    git(repo, "commit", "-qm", "drop a copy")
    capsys.readouterr()
    assert cli(repo, "push", "--yes") == 0, capsys.readouterr().err
    assert (store / SECRET).exists()


@needs_age
def test_a_push_killed_before_the_secret_is_finished_by_the_next_pull(
    pulled: tuple[Path, Path, str], repo: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Crash safety through the journal: killed after the first write (an InstanceGroup),
    the secret still pending; the next pull writes it decrypted and records it encrypted."""
    from tests.core.test_reviewed_intent import run_push_harness

    store, identity, public = pulled
    nodes = "minimal-aws.example.com/instancegroup/nodes"
    mirrored = repo / "state" / nodes
    mirrored.write_bytes(mirrored.read_bytes().replace(b"maxSize: 2", b"maxSize: 3"))
    git(repo, "commit", "-qam", "nodes: three")
    _rotate(repo, public, b"new-admin-token\n")
    monkeypatch.setenv("KOPS_GITSYNC_AGE_IDENTITY", str(identity))
    proc = run_push_harness(repo, store, tmp_path, 1)
    assert proc.returncode == -9, proc.stderr
    assert b"maxSize: 3" in (store / nodes).read_bytes()
    assert (store / SECRET).read_bytes() != b"new-admin-token\n"
    capsys.readouterr()
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    assert (store / SECRET).read_bytes() == b"new-admin-token\n"
    observed = "refs/kops-gitsync/observed/prod"
    assert "secrets/" not in git(repo, "ls-tree", "-r", "--name-only", observed, "state")
    assert git(repo, "rev-parse", f"{observed}:{copy_path('prod', SECRET)}") == git(
        repo, "rev-parse", f"main:{copy_path('prod', SECRET)}")
