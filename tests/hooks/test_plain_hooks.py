"""The plain git hooks (no pre-commit framework), installed by ``kops-gitsync install-hooks``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.cli.install_hooks import HOOK_TYPES, MARKER, render_hook
from tests.hooks.conftest import CHECKOUT, INVALID, Repo, fixture_store, intent_keys, output

CONFIG = """stores:
- name: prod
  path: state/prod
  production: true
- name: dev
  path: state/dev
"""
PROD = "state/prod/minimal-aws.example.com"
FOREIGN = '#!/bin/sh\necho foreign-ran >> "$(git rev-parse --git-dir)/foreign.log"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRE_COMMIT")}
    repo = Repo(tmp_path / "plain", env)
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write(".kops-gitsync.yaml", CONFIG)
    source = fixture_store("minimal-aws")
    for store in ("prod", "dev"):
        repo.copy_tree(source, f"state/{store}", intent_keys(source))
    assert repo.commit("mirror").returncode == 0
    return repo


def install(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return repo.run(sys.executable, "-m", "kops_gitsync", "install-hooks", *args, check=False)


def test_source_tree_hooks_are_what_install_hooks_writes() -> None:
    for hook_type in HOOK_TYPES:
        assert (CHECKOUT / "hooks" / hook_type).read_text() == render_hook(hook_type)
        assert os.access(CHECKOUT / "hooks" / hook_type, os.X_OK)


def test_install_writes_hooks_driver_and_attributes_once(repo: Repo) -> None:
    assert install(repo).returncode == 0
    for hook_type in HOOK_TYPES:
        hook = repo.path / ".git" / "hooks" / hook_type
        assert MARKER in hook.read_text()
        assert hook.stat().st_mode & stat.S_IXUSR
    driver = repo.git("config", "merge.kops-yaml.driver").stdout
    assert driver.strip().endswith("merge-driver %O %A %B %P")
    attributes = repo.read(".gitattributes").decode()
    assert "/state/prod/*/config merge=kops-yaml" in attributes
    assert "/state/dev/*/instancegroup/* merge=kops-yaml" in attributes
    assert install(repo).returncode == 0
    assert repo.read(".gitattributes").decode() == attributes


def test_plain_pre_commit_runs_every_check(repo: Repo) -> None:
    install(repo)
    repo.copy_tree(INVALID / "02-ig-subnet-not-in-cluster", "state/dev")
    proc = repo.commit("invalid IG")
    assert proc.returncode == 1
    assert (
        "state/dev/minimal-aws.example.com/instancegroup/nodes:17:5: ig-subnet-exists:"
        in output(proc)
    )
    repo.git("reset", "-q", "--hard")
    repo.write(
        "notes/admin.json",
        (fixture_store("minimal-aws") / "minimal-aws.example.com/secrets/admin").read_bytes(),
    )
    proc = repo.commit("a secret")
    assert proc.returncode == 1 and "notes/admin.json:1: kops-secret:" in output(proc)
    repo.git("rm", "-q", "--cached", "notes/admin.json")
    (repo.path / "notes/admin.json").unlink()
    nodes = "state/dev/minimal-aws.example.com/instancegroup/nodes"
    repo.write(nodes, repo.read(nodes).replace(b"maxSize: 2", b"maxSize: 3"))
    assert repo.commit("valid change on main").returncode == 0


def test_plain_hooks_protect_production_at_commit_merge_and_push(
    repo: Repo, tmp_path: Path
) -> None:
    """The review flow (docs/review-flow.md) with the plain hooks: propose on a branch."""
    install(repo)
    nodes = f"{PROD}/instancegroup/nodes"
    repo.write(nodes, repo.read(nodes).replace(b"maxSize: 2", b"maxSize: 3"))
    proc = repo.commit("prod change straight on main")
    assert proc.returncode == 1 and "production store 'prod'" in output(proc)
    repo.git("switch", "-q", "-c", "feature")
    proc = repo.git("commit", "-q", "-m", "prod change on a feature branch", check=False)
    assert proc.returncode == 0, output(proc)

    repo.git("checkout", "-q", "main")
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode != 0 and "into approved branch 'main' here skips review" in output(
        proc
    )
    repo.git("merge", "--abort")

    remote = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(remote))
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "--no-verify", "origin", "main")
    proc = repo.git("push", "origin", "feature:main", check=False)
    assert proc.returncode != 0 and "pushing to approved branch 'main'" in output(proc)
    assert nodes in output(proc)
    proc = repo.git("push", "origin", "feature", check=False)
    assert proc.returncode == 0, output(proc)


def test_plain_pre_merge_commit_validates_the_merge(repo: Repo) -> None:
    install(repo)
    cluster = "state/dev/minimal-aws.example.com"
    repo.git("checkout", "-q", "-b", "feature")
    nodes = repo.read(f"{cluster}/instancegroup/nodes")
    repo.write(f"{cluster}/instancegroup/nodes", nodes.replace(b"maxSize: 2", b"maxSize: 3"))
    assert repo.commit("grow").returncode == 0
    repo.git("checkout", "-q", "main")
    config = repo.read(f"{cluster}/config")
    repo.write(f"{cluster}/config", config.replace(b"name: us-test-1a\n", b"name: us-test-1x\n"))
    assert repo.commit("rename the subnet, bypassing hooks", verify=False).returncode == 0
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode != 0 and "ig-subnet-exists" in output(proc)


def test_foreign_hook_is_kept_or_chained(repo: Repo) -> None:
    hooks = repo.path / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text(FOREIGN)
    (hooks / "pre-commit").chmod(0o755)
    proc = install(repo, "--no-merge-driver")
    assert proc.returncode == 1 and "--chain" in output(proc)
    assert (hooks / "pre-commit").read_text() == FOREIGN
    assert MARKER in (hooks / "pre-push").read_text()

    assert install(repo, "--chain", "--no-merge-driver").returncode == 0
    assert (hooks / "pre-commit.local").read_text() == FOREIGN
    assert MARKER in (hooks / "pre-commit").read_text()
    repo.write("README.md", "review repo\n")
    assert repo.commit("docs").returncode == 0
    assert (repo.path / ".git" / "foreign.log").read_text() == "foreign-ran\n"


def test_installed_merge_driver_merges_subnets_added_on_both_sides(repo: Repo) -> None:
    install(repo)
    repo.git("add", ".gitattributes")
    assert repo.commit("attributes").returncode == 0
    config_path = "state/dev/minimal-aws.example.com/config"
    base = repo.read(config_path)
    subnet = (
        "  - cidr: 172.20.{n}.0/24\n    name: extra-{n}\n    type: Public\n    zone: us-test-1a\n"
    )
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(
        config_path, base.replace(b"  topology:", subnet.format(n=200).encode() + b"  topology:")
    )
    assert repo.commit("extra-200").returncode == 0, "valid"
    repo.git("checkout", "-q", "main")
    repo.write(
        config_path, base.replace(b"  topology:", subnet.format(n=100).encode() + b"  topology:")
    )
    assert repo.commit("extra-100").returncode == 0
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode == 0, output(proc)
    merged = repo.read(config_path).decode()
    assert merged.index("extra-100") < merged.index("extra-200")
