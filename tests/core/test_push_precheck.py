"""check_push: the kops-validate hook's checks on the commit push is about to write.

The review repository pulls a file:// copy of examples/store, so these tests need nothing
outside the checkout; broken objects are committed with ``--no-verify``, the way a hook
gets bypassed in practice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kops_gitsync.sync.context import SyncContext, open_contexts
from kops_gitsync.sync.precheck import PushCheck, check_push, clusters_of
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import Run, git

CHECKOUT = Path(__file__).resolve().parents[2]
EXAMPLE_STORE = CHECKOUT / "examples" / "store"
CLUSTER = "minimal-aws.example.com"
NODES = f"{CLUSTER}/instancegroup/nodes"
MASTER = f"{CLUSTER}/instancegroup/master-us-test-1a"
CONFIG = f"{CLUSTER}/config"


def _shared_stores() -> Path | None:
    """The fixture stores the project owns (tests/fixtures/stores)."""
    return FIXTURE_STORES if FIXTURE_STORES.is_dir() else None


def _copy_store(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture
def pulled_example(
    repo: Path, tmp_path: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, SyncContext]]:
    store = _copy_store(EXAMPLE_STORE, tmp_path / "store")
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{store}")
    result = cli("pull", cwd=repo)
    assert result.code == 0, result.err
    (ctx,) = open_contexts(repo, None, None, os.environ)
    yield repo, ctx
    ctx.close()


def commit_edit(repo: Path, key: str, old: str, new: str) -> str:
    path = repo / "state" / key
    text = path.read_text()
    assert old in text, (key, old)
    path.write_text(text.replace(old, new, 1))
    git(repo, "commit", "-q", "--no-verify", "-am", f"edit {key}")
    return git(repo, "rev-parse", "HEAD").strip()


def test_keys_name_the_clusters_to_check() -> None:
    keys = [NODES, "b.example.com/config", "c.example.com/addons/x.yaml",
            "d.example.com/instancegroup/a/b", "e.example.com/instancegroup/", "config"]
    assert clusters_of(keys) == ["b.example.com", CLUSTER]


def test_valid_edit_passes(pulled_example: tuple[Path, SyncContext]) -> None:
    repo, ctx = pulled_example
    commit = commit_edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    result = check_push(ctx, commit, [NODES])
    assert result == PushCheck((CLUSTER,), (), ())
    assert result.ok


@pytest.mark.parametrize(
    ("old", "new", "rule", "where"),
    [
        # a repeated key is a warning (kops keeps the last); the last value is what is judged
        ("maxSize: 2", "maxSize: 2\n  maxSize: 0", "ig-size-order", "spec.minSize"),
        ("maxSize: 2", "maxSize: 1", "ig-size-order", "spec.minSize"),
        ("  role: Node\n", "<<<<<<< HEAD\n  role: Node\n=======\n  role: Master\n>>>>>>> b\n",
         "conflict-markers", None),
        ("maxSize: 2", "maxSize: a", "schema-invalid", "spec.maxSize"),
    ],
)
def test_broken_ig_committed_without_hooks_is_caught(
    pulled_example: tuple[Path, SyncContext], old: str, new: str, rule: str, where: str | None
) -> None:
    repo, ctx = pulled_example
    commit = commit_edit(repo, NODES, old, new)
    result = check_push(ctx, commit, [NODES])
    assert not result.ok
    hits = [line for line in result.errors if f": {rule}: " in line]
    assert hits, result.errors
    assert all(line.startswith(f"state/{NODES}:") for line in hits)
    if where is not None:
        assert any(f": {where}: {rule}: " in line for line in hits), hits
    message = result.refusal(ctx.name)
    assert hits[0] in message and "--skip-validation" in message


def test_an_untouched_ig_broken_by_a_config_edit_is_caught(
    pulled_example: tuple[Path, SyncContext],
) -> None:
    """Cross-object: the pushed key is the Cluster, the finding is in an IG."""
    repo, ctx = pulled_example
    commit = commit_edit(repo, CONFIG, "    name: us-test-1a\n    type: Public",
                         "    name: us-test-1z\n    type: Public")
    result = check_push(ctx, commit, [CONFIG])
    assert any(line.startswith(f"state/{NODES}:") and "ig-subnet-exists" in line
               for line in result.errors), result.errors


def test_warnings_do_not_block(pulled_example: tuple[Path, SyncContext]) -> None:
    repo, ctx = pulled_example
    commit = commit_edit(repo, NODES, f"    kops.k8s.io/cluster: {CLUSTER}\n", "    team: a\n")
    result = check_push(ctx, commit, [NODES])
    assert result.ok and result.warnings
    assert all("(warning)" in line for line in result.warnings)


def test_update_rules_run_against_the_base(pulled_example: tuple[Path, SyncContext]) -> None:
    repo, ctx = pulled_example
    base = git(repo, "rev-parse", "HEAD").strip()
    commit = commit_edit(repo, CONFIG, "instanceGroup: master-us-test-1a",
                         "instanceGroup: nodes")
    plain = check_push(ctx, commit, [CONFIG])
    with_base = check_push(ctx, commit, [CONFIG], base=base)
    assert not any("update-etcd-member-ig-changed" in line for line in plain.errors)
    assert any("update-etcd-member-ig-changed" in line for line in with_base.errors)


def test_a_deleted_ig_still_named_by_etcd_is_caught(
    pulled_example: tuple[Path, SyncContext],
) -> None:
    repo, ctx = pulled_example
    git(repo, "rm", "-q", f"state/{MASTER}")
    git(repo, "commit", "-q", "--no-verify", "-m", "drop the control plane")
    result = check_push(ctx, git(repo, "rev-parse", "HEAD").strip(), [MASTER])
    assert any("etcd-member-unknown-ig" in line for line in result.errors), result.errors


def test_deleted_cluster_and_derived_keys_need_no_checks(
    pulled_example: tuple[Path, SyncContext],
) -> None:
    repo, ctx = pulled_example
    git(repo, "rm", "-rq", f"state/{CLUSTER}")
    git(repo, "commit", "-q", "--no-verify", "-m", "delete the cluster")
    commit = git(repo, "rev-parse", "HEAD").strip()
    assert check_push(ctx, commit, [CONFIG, NODES]).errors == ()
    assert check_push(ctx, commit, [f"{CLUSTER}/cluster-completed.spec"]).clusters == ()


def test_a_sibling_folder_with_a_longer_name_is_not_mixed_in(
    pulled_example: tuple[Path, SyncContext],
) -> None:
    repo, ctx = pulled_example
    sibling = repo / "state" / f"{CLUSTER}x" / "instancegroup" / "nodes"
    sibling.parent.mkdir(parents=True)
    sibling.write_text("maxSize: [\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "a broken sibling")
    result = check_push(ctx, git(repo, "rev-parse", "HEAD").strip(), [NODES])
    assert result.ok, result.errors


def test_a_rule_that_crashes_blocks_the_push(
    pulled_example: tuple[Path, SyncContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kops_gitsync.validate import rules

    def exploding(view: object) -> list[object]:
        raise RuntimeError("bug")

    monkeypatch.setattr(rules, "CHECKS", (*rules.CHECKS, exploding))
    repo, ctx = pulled_example
    commit = commit_edit(repo, NODES, "maxSize: 2", "maxSize: 5")
    result = check_push(ctx, commit, [NODES])
    assert any("rule-crashed" in line and "exploding" in line for line in result.errors)


def _store_clusters(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "config").is_file())


def test_example_store_has_no_errors(repo: Path) -> None:
    _assert_store_clean(EXAMPLE_STORE, repo)


_SHARED = _shared_stores()
SHARED_STORES = (
    [p.name for p in sorted(_SHARED.iterdir()) if p.is_dir()]
    if _SHARED is not None
    else [pytest.param("absent", marks=pytest.mark.skip(
        reason=f"fixture stores absent ({FIXTURE_STORES})"))]
)


@pytest.mark.parametrize("store", SHARED_STORES)
def test_shared_fixture_stores_have_no_errors(store: str, repo: Path) -> None:
    assert _SHARED is not None
    _assert_store_clean(_SHARED / store, repo)


def _assert_store_clean(source: Path, repo: Path) -> None:
    """Commit the store's mirror as pull would lay it out and check every cluster."""
    shutil.copytree(source, repo / "state")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "store as mirrored")
    (ctx,) = open_contexts(repo, None, None, {"KOPS_STATE_STORE": f"file://{source}"})
    try:
        keys = [f"{c.name}/config" for c in _store_clusters(source)]
        assert keys
        result = check_push(ctx, git(repo, "rev-parse", "HEAD").strip(), keys)
    finally:
        ctx.close()
    assert result.errors == (), result.errors
    assert len(result.clusters) == len(keys)


def test_the_clusters_kops_version_picks_the_schema(
    pulled_example: tuple[Path, SyncContext],
) -> None:
    """push judges a cluster as the hooks do: with the schema of the kops minor named by the
    mirrored ``kops-version.txt``. A field kops 1.37 added is unknown to a 1.33 cluster
    (a warning: kops 1.33 would drop it), and known to the newest."""
    repo, ctx = pulled_example
    (repo / "state" / CLUSTER / "kops-version.txt").write_text("1.33.2")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "written by kops 1.33")
    commit = commit_edit(repo, CONFIG, "\nspec:\n",
                         "\nspec:\n  containerd:\n    installCriCtl: true\n")
    result = check_push(ctx, commit, [CONFIG])
    assert result.ok
    assert any("installCriCtl" in line for line in result.warnings), result.warnings
