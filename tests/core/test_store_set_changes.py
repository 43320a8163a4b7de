"""Several stores, as an operator grows a repository: adding a store must not move another
store's mirror, and push/pull/status report every store instead of stopping at the first
failure. Uses file:// copies of examples/store (present in every checkout)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.core.conftest import Run, git

EXAMPLE_STORE = Path(__file__).resolve().parents[2] / "examples" / "store"
CLUSTER = "minimal-aws.example.com"


@pytest.fixture
def example_store(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        target = tmp_path / f"store-{name}"
        shutil.copytree(EXAMPLE_STORE, target)
        return target

    return make


def write_config(repo: Path, text: str) -> None:
    (repo / ".kops-gitsync.yaml").write_text(text)
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "config")


def test_adding_a_store_does_not_move_the_first_mirror(
    repo: Path, example_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    prod, dev = example_store("prod"), example_store("dev")
    write_config(repo, f"stores:\n  - name: prod\n    state: file://{prod}\n")
    assert cli("pull", cwd=repo).code == 0
    assert (repo / f"state/{CLUSTER}/config").exists()

    write_config(
        repo,
        f"stores:\n  - name: prod\n    state: file://{prod}\n"
        f"  - name: dev\n    state: file://{dev}\n",
    )
    for verb in ("status", "pull", "push"):
        result = cli(verb, cwd=repo)
        assert result.code == 1, (verb, result.out)
        assert (
            ".kops-gitsync.yaml:2: store 'prod' has no `path`, so with 2 store(s) it would be "
            "mirrored in state/prod/, but its mirror is in state/: add `path: state` to store "
            "'prod' and give 'dev' a `path` outside state/ (like `path: mirror/dev`)"
            in result.err
        ), (verb, result.err)
        assert "deleted" not in result.out

    write_config(
        repo,
        f"stores:\n  - name: prod\n    state: file://{prod}\n    path: state\n"
        f"  - name: dev\n    state: file://{dev}\n    path: mirror/dev\n",
    )
    assert cli("pull", cwd=repo).code == 0
    status = cli("status", "--store", "prod", cwd=repo)
    assert status.code == 0, status.err
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / f"mirror/dev/{CLUSTER}/config").exists()


def test_a_store_never_pulled_may_use_the_default(
    repo: Path, example_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    one, two = example_store("one"), example_store("two")
    write_config(
        repo,
        f"stores:\n  - name: one\n    state: file://{one}\n"
        f"  - name: two\n    state: file://{two}\n",
    )
    assert cli("pull", cwd=repo).code == 0
    assert (repo / f"state/one/{CLUSTER}/config").exists()
    assert cli("status", cwd=repo).code == 0  # found where the default says: no complaint
    # Removing a store would move the other one from state/one/ to state/: refused too.
    write_config(repo, f"stores:\n  - name: one\n    state: file://{one}\n")
    result = cli("status", cwd=repo)
    assert result.code == 1 and "add `path: state/one` to store 'one'" in result.err


def test_pull_and_status_go_on_after_a_store_fails(
    repo: Path, example_store: Callable[[str], Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    good = example_store("good")
    write_config(
        repo,
        f"stores:\n  - name: gone\n    state: file://{tmp_path}/no-such-store\n"
        f"    path: state/gone\n  - name: good\n    state: file://{good}\n    path: state/good\n",
    )
    pulled = cli("pull", cwd=repo)
    assert pulled.code == 1
    assert (repo / f"state/good/{CLUSTER}/config").exists()
    assert "kops-gitsync pull: store 'gone': " in pulled.err
    assert "pull failed for 1 of 2 stores:" in pulled.err
    assert "\n  good: ok" in pulled.err

    status = cli("status", cwd=repo)
    assert status.code == 1
    assert "good" in status.out
    assert "status failed for 1 of 2 stores:" in status.err


def test_push_goes_on_after_a_refused_store(
    repo: Path, example_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    prod, dev = example_store("prod"), example_store("dev")
    write_config(
        repo,
        f"stores:\n  - name: prod\n    state: file://{prod}\n    path: state/prod\n"
        "    production: true\n"
        f"  - name: dev\n    state: file://{dev}\n    path: state/dev\n"
        "    approved_branches: ['*']\n",
    )
    assert cli("pull", cwd=repo).code == 0
    git(repo, "checkout", "-qb", "feature")
    for name in ("prod", "dev"):
        ig = repo / f"state/{name}/{CLUSTER}/instancegroup/nodes"
        ig.write_text(ig.read_text() + f"# {name} change\n")
    git(repo, "commit", "-qam", "change both")

    result = cli("push", "--yes", cwd=repo)
    assert result.code == 1
    assert "kops-gitsync push: store 'prod': error:" in result.err
    assert "not approved" in result.err
    assert "push failed for 1 of 2 stores:" in result.err
    assert "\n  dev: ok" in result.err
    assert (dev / CLUSTER / "instancegroup/nodes").read_text().endswith("# dev change\n")
    assert not (prod / CLUSTER / "instancegroup/nodes").read_text().endswith("# prod change\n")
