"""status and the CLI surface (--version, python -m)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kops_gitsync import __version__
from tests.core.conftest import Run, git


def test_status_store_ahead_git_ahead_conflicts(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    url = f"file://{store}"
    cli("pull", "--state", url, cwd=repo)
    clean = cli("status", "--state", url, cwd=repo)
    assert clean.code == 0
    assert "store ahead: 0" in clean.out and "git ahead: 0" in clean.out

    nodes = "minimal-aws.example.com/instancegroup/nodes"
    master = "minimal-aws.example.com/instancegroup/master-us-test-1a"
    (repo / "state" / nodes).write_text((repo / "state" / nodes).read_text() + "# git\n")
    git(repo, "commit", "-qam", "git edit")
    (store / master).write_text((store / master).read_text() + "# store\n")
    status = cli("status", "--state", url, cwd=repo)
    assert f"store ahead: 1 object(s) not pulled yet: {master}" in status.out
    assert f"git ahead: 1 object(s) to push from main (approved): {nodes}" in status.out
    assert "conflicts: 0" in status.out

    (store / nodes).write_text("# changed in the store too\n")
    conflicted = cli("status", "--state", url, cwd=repo)
    assert conflicted.code == 1 and f"conflicts: 1: {nodes}" in conflicted.out


def test_version_and_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"kops-gitsync {__version__}"


def test_import_does_not_pull_in_cloud_sdks_or_git() -> None:
    code = (
        "import sys, kops_gitsync, kops_gitsync.cli.main, kops_gitsync.vfs.registry;"
        "heavy = [m for m in ('boto3','google.cloud.storage','openstack','oss2','kubernetes','git')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
