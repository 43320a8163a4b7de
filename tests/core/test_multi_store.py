"""Several stores in one review repo, selected with --store, each with its own history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.core.conftest import Run, git, snapshot


def test_two_stores_pull_all_push_one(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    prod, dev = make_store("ha"), make_store("minimal_gce")
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n"
        f"  - name: prod\n    state: file://{prod}\n    production: true\n"
        f"  - name: dev\n    state: file://{dev}\n    approved_branches: ['*']\n"
    )
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "two stores")

    result = cli("pull", cwd=repo)
    assert result.code == 0, result.err
    assert (repo / "state/prod/ha.example.com/config").exists()
    assert (repo / "state/dev/minimal-gce.example.com/config").exists()
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/kops-gitsync/")
    assert refs.split() == ["refs/kops-gitsync/observed/dev", "refs/kops-gitsync/observed/prod"]

    git(repo, "checkout", "-qb", "feature")
    ig = repo / "state/dev/minimal-gce.example.com/instancegroup/nodes"
    ig.write_text(ig.read_text() + "# dev change\n")
    git(repo, "commit", "-qam", "dev change")
    prod_before = snapshot(prod)
    assert cli("push", "--store", "dev", "--yes", cwd=repo).code == 0
    assert (
        (dev / "minimal-gce.example.com/instancegroup/nodes").read_text().endswith("# dev change\n")
    )
    assert snapshot(prod) == prod_before
    refused = cli("push", "--store", "prod", "--yes", cwd=repo)
    assert refused.code == 1 and "not approved" in refused.err
    assert cli("push", "--store", "nope", cwd=repo).err.count("no store named 'nope'") == 1


def test_secrets_include_policy_mirrors_but_never_pushes_secrets(
    repo: Path, make_store: Callable[[str], Path], cli: Callable[..., Run]
) -> None:
    store = make_store("minimal-aws")
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n  - name: enc\n    state: file://{store}\n    secrets: include\n"
    )
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "encrypted repo")
    assert cli("pull", cwd=repo).code == 0
    secret = repo / "state/minimal-aws.example.com/secrets/admin"
    assert secret.exists()
    secret.write_text('{"Data":"Y2hhbmdlZA=="}')
    git(repo, "commit", "-qam", "edit a secret in git")
    before = snapshot(store)
    result = cli("push", "--yes", cwd=repo)
    assert result.code == 0 and "not pushed" in result.out
    assert snapshot(store) == before
