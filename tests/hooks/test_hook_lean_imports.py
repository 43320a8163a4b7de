"""What ``kops-gitsync hook checks`` loads and runs for the commonest commit: one edited
InstanceGroup (issue 16: every millisecond of it is paid on every commit).

The hook runs for real, in a real git repository, with a staged edit; the test lists the
modules the process imported and the git commands it started. Nothing here times anything:
a module or a process that the commit does not need is what costs, so that is what is
checked."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.backup import crypt
from kops_gitsync.cli.main import main
from kops_gitsync.hooks import base
from tests.conftest import FIXTURE_STORES

CLUSTER = "minimal-aws.example.com"
IG = f"state/{CLUSTER}/instancegroup/nodes"

# Runs the hook in-process and writes what it imported, and its exit status, to argv[1].
_PROBE = """
import json, sys
from kops_gitsync.cli.main import main
status = main(sys.argv[2:])
json.dump({"status": status, "modules": sorted(sys.modules)}, open(sys.argv[1], "w"))
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A review repository holding the minimal-aws cluster, one InstanceGroup edit staged."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PRE_COMMIT", "GIT_INDEX_FILE", "PRE_COMMIT_FROM_REF", "GIT_DIR"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "review"
    source = FIXTURE_STORES / "minimal-aws" / CLUSTER
    shutil.copytree(source / "instancegroup", repo / "state" / CLUSTER / "instancegroup")
    for name in ("config", "kops-version.txt"):
        shutil.copy(source / name, repo / "state" / CLUSTER / name)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
         "--no-verify", "-m", "cluster")
    path = repo / IG
    path.write_text(path.read_text().replace("maxSize: 2", "maxSize: 3"))
    _git(repo, "add", IG)
    return repo


def _run_hook(repo: Path, tmp_path: Path, *argv: str) -> dict[str, object]:
    out = tmp_path / "probe.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(out), "hook", *argv], cwd=repo,
                          env=env, capture_output=True, text=True, check=False)
    assert out.exists(), proc.stderr
    result: dict[str, object] = json.loads(out.read_text())
    result["output"] = proc.stdout + proc.stderr
    return result


def test_one_ig_commit_loads_no_backup_or_sync_machinery(repo: Path, tmp_path: Path) -> None:
    got = _run_hook(repo, tmp_path, "checks")
    assert got["status"] == 0, got["output"]
    modules = set(got["modules"])  # type: ignore[call-overload]
    assert "kops_gitsync.validate.engine" in modules  # the cluster was validated
    assert "kops_gitsync.secretscan" in modules  # and the file scanned
    for heavy in ("kops_gitsync.backup.crypt", "kops_gitsync.vfs.base", "concurrent.futures"):
        assert heavy not in modules, f"{heavy} imported by a one-InstanceGroup commit"


def test_encrypted_copy_location_is_backups() -> None:
    """hooks.base repeats where backup.crypt writes age copies, to spare commits the import."""
    assert base.ENCRYPTED_DIR == crypt.ENCRYPTED_DIR
    assert base.ENCRYPTED_SUFFIX == crypt.SUFFIX
    assert base.copy_dir("prod") == crypt.copy_dir("prod")


@pytest.mark.parametrize(("argv", "parsers"), [(["hook", "--help"], 1), (["--help"], 15)])
def test_a_verb_builds_only_its_own_parser(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str],
    parsers: int,
) -> None:
    """Every hook run starts with this parse: the other verbs' parsers are not built (their
    usage and error lines are unchanged: the same prefix, the same parent parser)."""
    built: list[str] = []
    real = argparse._SubParsersAction.add_parser

    def spy(
        self: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **kwargs: object
    ) -> object:
        built.append(name)
        return real(self, name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(argparse._SubParsersAction, "add_parser", spy)
    with pytest.raises(SystemExit):
        main(argv)
    assert len(built) == parsers, built
    assert "usage: kops-gitsync" in capsys.readouterr().out


def test_one_ig_commit_starts_each_git_command_once(repo: Path, tmp_path: Path) -> None:
    """Every git process is paid on every commit: the hook asks git each question once
    (the approved branch was resolved twice, and each config key was its own process)."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git.log"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >>"{log}"\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    _git(repo, "config", "branch.main.remote", "origin")
    _git(repo, "config", "remote.origin.url", str(tmp_path / "nowhere.git"))
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "kops_gitsync", "hook", "checks"], cwd=repo,
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == len(set(calls)), calls
    assert sum(call.startswith("config") for call in calls) <= 1, calls


def test_config_and_default_branch_read_once_say_what_git_says(repo: Path) -> None:
    """protect-production's one ``git config --list`` answers as ``git config --get-all``
    and ``staged.default_branch`` do, case rules and multi-valued keys included."""
    from kops_gitsync.gitrepo import staged
    from kops_gitsync.gitrepo.reader import GitReader
    from kops_gitsync.hooks.protect_production import _StagedGit

    _git(repo, "config", "branch.Feature-X.remote", "review")
    _git(repo, "config", "--add", "remote.origin.url", "a")
    _git(repo, "config", "--add", "remote.origin.url", "b")
    keys = ["branch.Feature-X.remote", "BRANCH.Feature-X.REMOTE", "branch.feature-x.remote",
            "remote.origin.url", "remote.Origin.url", "init.defaultBranch", "core.bare"]
    for setting in (None, "trunk", "master"):
        if setting:
            _git(repo, "config", "init.defaultBranch", setting)
        with GitReader(repo) as reader:
            mine = _StagedGit(repo, reader)
            for key in keys:
                proc = subprocess.run(["git", "config", "--get-all", key], cwd=repo,
                                      capture_output=True, text=True, check=False)
                want = [line for line in proc.stdout.splitlines() if line.strip()]
                assert mine.config_get(key) == want, key
            assert mine.default_branch() == staged.default_branch(repo), setting
    _git(repo, "branch", "-m", "main", "master")
    _git(repo, "config", "--unset", "init.defaultBranch")
    with GitReader(repo) as reader:
        assert _StagedGit(repo, reader).default_branch() == staged.default_branch(repo) == "master"
