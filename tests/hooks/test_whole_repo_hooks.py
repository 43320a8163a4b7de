"""The hooks on a repository as ``kops-gitsync pull`` leaves it, through real pre-commit.

* ``pre-commit run --all-files`` on a freshly pulled, untouched repository passes: every
  generated object is exactly what the store holds, so none is a hand edit.
* Each whole-change hook runs in one process per commit: pre-commit splits the files into a
  batch per CPU unless ``require_serial`` is set, and every batch repeated the same findings.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.hooks.conftest import ALL_HOOKS, CHECKOUT, MakeRepo, Repo, output

EXAMPLE_STORE = CHECKOUT / "examples" / "store"
CLUSTER = "state/minimal-aws.example.com"
DERIVED_HEADER = "generated objects (written by `kops update cluster`) changed by hand:"


def pulled_repo(make_repo: MakeRepo, tmp_path: Path, config: str | None = None) -> Repo:
    store = tmp_path / "store"
    shutil.copytree(EXAMPLE_STORE, store)
    repo = make_repo(hooks=ALL_HOOKS, config=config)  # committed with the hook config
    state = [] if config is not None else ["--state", f"file://{store}"]
    repo.run(sys.executable, "-m", "kops_gitsync", "pull", *state)
    assert (repo.path / CLUSTER / "cluster-completed.spec").exists()
    assert repo.git("status", "--porcelain").stdout == ""
    return repo


def test_all_files_on_a_fresh_pull_passes_and_a_hand_edit_is_named_once(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = pulled_repo(make_repo, tmp_path)
    proc = repo.pre_commit("run", "--all-files")
    assert proc.returncode == 0, output(proc)

    spec = f"{CLUSTER}/cluster-completed.spec"
    repo.write(spec, repo.read(spec) + b"# tweak\n")
    repo.git("add", spec)
    proc = repo.pre_commit("run", "--all-files", "kops-no-derived-edits")
    assert proc.returncode == 1
    text = output(proc)
    assert text.count(DERIVED_HEADER) == 1, text
    listed = [line.strip() for line in text.splitlines() if line.startswith("  state/")]
    assert listed == [spec]


def test_each_whole_change_hook_reports_once_per_commit(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """One commit that every hook refuses, with enough files for pre-commit to split them."""
    repo = pulled_repo(
        make_repo,
        tmp_path,
        config=f"stores:\n  - name: prod\n    state: file://{tmp_path}/store\n"
        "    path: state\n    production: true\n",
    )
    # committed straight on the approved branch, so kops-protect-production refuses it too
    nodes = f"{CLUSTER}/instancegroup/nodes"
    repo.write(nodes, repo.read(nodes).replace(b"minSize: 2", b"minSize: 5"))
    spec = f"{CLUSTER}/cluster-completed.spec"
    repo.write(spec, repo.read(spec) + b"# tweak\n")
    repo.write("notes/leaked.pem", b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"
               b"-----END RSA PRIVATE KEY-----\n")
    for n in range(8):
        repo.write(f"notes/n{n}.md", f"note {n}\n")
    proc = repo.commit("refused by every hook")
    assert proc.returncode == 1
    text = output(proc)
    assert text.count(DERIVED_HEADER) == 1, text
    assert text.count("production store 'prod'") == 1, text
    assert text.count("ig-size-order") == 1, text
    assert text.count("notes/leaked.pem:") == 1, text


def test_whole_change_hooks_are_serial() -> None:
    hooks = yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text())
    for hook in hooks:
        assert hook.get("require_serial") is True, hook["id"]


@pytest.fixture(autouse=True)
def _no_pre_commit_concurrency_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """pre-commit splits files only when it may run hooks concurrently."""
    monkeypatch.delenv("PRE_COMMIT_NO_CONCURRENCY", raising=False)
