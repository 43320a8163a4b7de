"""A reviewed edit is never dropped, and the observed history holds only what the store held.

Every scenario ends the same way: each reviewed edit is either in the store, or still on the
branch as something `push` would write, or named by a conflict. Never silently gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.status import store_status
from tests.core.conftest import Run, git, snapshot
from tests.core.test_push import CONFIG, MASTER, NODES, edit

CLUSTER = "minimal-aws.example.com"
NEW_IGS = [f"{CLUSTER}/instancegroup/nodes-{s}" for s in ("b", "c", "d")]


def _reviewed_edits(repo: Path) -> dict[str, bytes]:
    """Six reviewed changes on main (three updates, three creates): key -> reviewed bytes."""
    edit(repo, NODES, "maxSize: 2", "maxSize: 3", "nodes: maxSize 3")
    edit(repo, MASTER, "maxSize: 1", "maxSize: 1\n# reviewed", "master: comment")
    edit(repo, CONFIG, "kubernetesVersion:", "# reviewed\n  kubernetesVersion:", "config")
    nodes = (repo / "state" / NODES).read_text()
    for key in NEW_IGS:
        name = key.rsplit("/", 1)[1]
        (repo / "state" / key).write_text(nodes.replace("name: nodes", f"name: {name}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "three more node groups")
    return {k: (repo / "state" / k).read_bytes() for k in (NODES, MASTER, CONFIG, *NEW_IGS)}


# Kills the push after N object writes, or, with FOREIGN set, writes that object in the store
# behind the push's back after N writes (the ordinary push then stops on a precondition).
HARNESS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from kops_gitsync.vfs import file as backend
    after = int(os.environ["AFTER_WRITES"])
    foreign = os.environ.get("FOREIGN")
    real_write, real_delete = backend.FileStore.write, backend.FileStore.delete
    count = [0]
    def counted(self, key):
        if key.endswith("kops-gitsync.lock"):
            return
        count[0] += 1
        if count[0] == after:
            if foreign:
                path = Path(os.environ["STORE"]) / foreign
                old = path.read_bytes() if path.exists() else b"kind: InstanceGroup\\n"
                path.write_bytes(old.replace(b"maxSize: ", b"maxSize: 1") + b"# kops\\n")
            else:
                os.kill(os.getpid(), signal.SIGKILL)
    def write(self, key, data, **kw):
        if after == 0 and not key.endswith("kops-gitsync.lock"):
            os.kill(os.getpid(), signal.SIGKILL)  # journal written, nothing applied yet
        version = real_write(self, key, data, **kw)
        counted(self, key)
        return version
    def delete(self, key, **kw):
        real_delete(self, key, **kw)
        counted(self, key)
    backend.FileStore.write, backend.FileStore.delete = write, delete
    from kops_gitsync.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_push_harness(
    repo: Path, store: Path, tmp_path: Path, after: int, foreign: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    # One write at a time: the grid counts exactly N writes before the kill (parallel writes:
    # tests/core/test_push_parallel.py)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]),
           "AFTER_WRITES": str(after), "STORE": str(store), "KOPS_GITSYNC_PUSH_WORKERS": "1"}
    if foreign:
        env["FOREIGN"] = foreign
    return subprocess.run(
        [sys.executable, str(script), "push", "--yes"], cwd=repo, capture_output=True, env=env
    )


MARKERS = {NODES: b"maxSize: 3", MASTER: b"# reviewed", CONFIG: b"# reviewed",
           **{k: b"name: " + k.rsplit("/", 1)[1].encode() for k in NEW_IGS}}


def _assert_nothing_dropped(
    repo: Path, store: Path, reviewed: dict[str, bytes], cli: Callable[..., Run], pull: Run
) -> None:
    """Each reviewed edit: in the store, or pending on main, or named by a conflict."""
    conflicts = pull.err if pull.code != 0 else ""
    [ctx] = open_contexts(repo, None, None, {"KOPS_STATE_STORE": f"file://{store}"})
    status = store_status(ctx)
    for key in reviewed:
        marker = MARKERS[key]
        in_store = (store / key).exists() and marker in (store / key).read_bytes()
        on_branch = marker in (repo / "state" / key).read_bytes()
        pending = on_branch and key in status.git_ahead + status.conflicts
        named = key in conflicts
        assert in_store or pending or named, (
            f"reviewed edit of {key} was dropped\npull: {pull.err}\nstatus: {status.render()}"
        )


def _foreign_write(store: Path, key: str) -> None:
    """kops rewrites ``key`` on the very lines the review changed."""
    target = store / key
    if not target.exists():
        target.write_text("apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\n")
        return
    text = target.read_text().replace("maxSize: 2", "maxSize: 10")
    text = text.replace("maxSize: 1", "maxSize: 9")
    target.write_text(text.replace("kubernetesVersion:", "# kops wrote this\n  kubernetesVersion:"))


KILL_GRID = [(after, target) for after in range(6) for target in [None, *range(6 - after)]]


@pytest.mark.parametrize(("after", "target"), KILL_GRID)
def test_killed_push_then_foreign_write_never_drops_a_reviewed_edit(
    pulled: tuple[Path, Path],
    cli: Callable[..., Run],
    tmp_path: Path,
    after: int,
    target: int | None,
) -> None:
    """Every kill point (before the first write, after each of the first five) and every
    unwritten object kops may change meanwhile (or none): nothing reviewed is dropped."""
    repo, store = pulled
    reviewed = _reviewed_edits(repo)
    before = snapshot(store)
    proc = run_push_harness(repo, store, tmp_path, after)
    assert proc.returncode == -9, proc.stderr
    now = snapshot(store)
    unwritten = sorted(k for k in reviewed if now.get(k) == before.get(k))
    assert len(unwritten) == len(reviewed) - after
    if target is not None:
        _foreign_write(store, unwritten[target])
        foreign = (store / unwritten[target]).read_bytes()
    pull = cli("pull", cwd=repo)
    _assert_nothing_dropped(repo, store, reviewed, cli, pull)
    if target is not None:
        assert pull.code != 0 and unwritten[target] in pull.err
        assert (store / unwritten[target]).read_bytes() == foreign  # kops' write kept
    else:
        assert pull.code == 0, pull.err
        assert all(snapshot(store).get(k) == v for k, v in reviewed.items())


@pytest.mark.parametrize("after", [1, 3])
def test_push_stopped_by_a_concurrent_writer_keeps_the_rest_pending(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path, after: int
) -> None:
    repo, store = pulled
    reviewed = _reviewed_edits(repo)
    foreign = sorted(reviewed)[after]
    proc = run_push_harness(repo, store, tmp_path, after, foreign=foreign)
    assert proc.returncode == 1 and b"stopped" in proc.stderr, proc.stderr
    pull = cli("pull", cwd=repo)
    _assert_nothing_dropped(repo, store, reviewed, cli, pull)
    assert foreign in pull.err  # both sides changed it: the user decides


def test_status_during_an_interrupted_push_shows_no_conflicts_of_its_own(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    repo, store = pulled
    _reviewed_edits(repo)
    assert run_push_harness(repo, store, tmp_path, 2).returncode == -9
    status = cli("status", cwd=repo)
    assert status.code == 0, status.out + status.err
    assert "conflicts: 0" in status.out
    assert "interrupted push is pending" in status.out


def test_resume_message_does_not_call_deleted_keys_present(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    repo, store = pulled
    extra = f"{CLUSTER}/instancegroup/zzz-extra"
    (store / extra).write_bytes((store / NODES).read_bytes().replace(b"name: nodes", b"name: zz"))
    assert cli("pull", cwd=repo).code == 0
    edit(repo, NODES, "maxSize: 2", "maxSize: 3", "nodes")
    (repo / "state" / extra).unlink()
    git(repo, "commit", "-qam", "drop extra")
    assert run_push_harness(repo, store, tmp_path, 1).returncode == -9
    result = cli("pull", cwd=repo)
    assert result.code == 0, result.err
    present = next(line for line in result.err.splitlines() if "finished" in line)
    assert "zzz-extra" not in present.split("deleted")[0]


def test_pull_on_the_default_branch_receives_only_what_the_store_holds(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    """A push from another approved branch must not bring that branch's history to main."""
    repo, _store = pulled
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n- name: default\n  approved_branches: [main, 'release/*']\n"
    )
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "approve release branches")
    git(repo, "checkout", "-qb", "release/1")
    (repo / "README.md").write_text("release notes only\n")
    (repo / "release-only.txt").write_text("x\n")
    git(repo, "add", "release-only.txt")
    edit(repo, NODES, "maxSize: 2", "maxSize: 4", "release: nodes 4")
    release_tip = git(repo, "rev-parse", "HEAD").strip()
    pushed = cli("push", "--yes", cwd=repo)
    assert pushed.code == 0, pushed.err
    git(repo, "checkout", "-q", "main")
    pull = cli("pull", cwd=repo)
    assert pull.code == 0, pull.err
    assert "maxSize: 4" in (repo / "state" / NODES).read_text()
    assert (repo / "README.md").read_text() == "review repo\n"
    assert not (repo / "release-only.txt").exists()
    ancestor = subprocess.run(
        ["git", "merge-base", "--is-ancestor", release_tip, "main"], cwd=repo
    )
    assert ancestor.returncode == 1, "main absorbed the release branch's history"


def test_observed_commits_hold_only_the_mirror_and_sync_state(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, _store = pulled
    (repo / "notes.txt").write_text("team notes\n")
    git(repo, "add", "notes.txt")
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "nodes 5")
    assert cli("push", "--yes", cwd=repo).code == 0
    tree = git(repo, "ls-tree", "--name-only", "refs/kops-gitsync/observed/default").split()
    assert sorted(tree) == [".kops-gitsync", "state"]


def test_follow_up_edit_after_push_merges_cleanly(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    edit(repo, NODES, "maxSize: 2", "maxSize: 5", "5")
    assert cli("push", "--yes", cwd=repo).code == 0
    edit(repo, NODES, "maxSize: 5", "maxSize: 6", "6")
    pull = cli("pull", cwd=repo)
    assert pull.code == 0, pull.err
    assert "maxSize: 6" in (repo / "state" / NODES).read_text()
    assert "maxSize: 5" in (store / NODES).read_text()
    assert cli("push", "--yes", cwd=repo).code == 0
    assert "maxSize: 6" in (store / NODES).read_text()


def test_attributes_under_the_mirror_cannot_change_how_pull_merges(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    """A `* merge=union` must not turn a real conflict into a file holding both values."""
    repo, store = pulled
    (repo / "state" / CLUSTER / ".gitattributes").write_text("* merge=union\n")
    (repo / ".gitattributes").write_text("* merge=union\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "attributes")
    edit(repo, NODES, "maxSize: 2", "maxSize: 3", "reviewed")
    (store / NODES).write_text((store / NODES).read_text().replace("maxSize: 2", "maxSize: 10"))
    pull = cli("pull", cwd=repo)
    assert pull.code != 0 and NODES in pull.err
    text = (repo / "state" / NODES).read_text()
    assert "maxSize: 3" in text and "maxSize: 10" not in text
    assert git(repo, "status", "--porcelain") == ""


def test_a_teammates_clone_shares_one_store_history(
    pulled: tuple[Path, Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    repo, _store = pulled
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(remote), str(mate))
    status = cli("status", cwd=mate)
    assert "never pulled" not in status.out and "store ahead: 0" in status.out, status.out
    head = git(mate, "rev-parse", "HEAD")
    pull = cli("pull", cwd=mate)
    assert pull.code == 0 and "up to date" in pull.out, pull.out + pull.err
    assert git(mate, "rev-parse", "HEAD") == head


def test_a_store_that_lost_what_git_holds_is_reported_loudly(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    for path in sorted(store.rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
        else:
            path.rmdir()
    status = cli("status", cwd=repo)
    assert status.code != 0 and "lost" in status.out + status.err, status.out
    edit(repo, NODES, "maxSize: 2", "maxSize: 3", "edit")
    push = cli("push", "--yes", cwd=repo)
    assert push.code != 0 and "lost" in push.err and "restore" in push.err
    assert list(store.iterdir()) == []
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    pull = cli("pull", cwd=repo)
    assert pull.code != 0 and "lost" in pull.err and "recovery" in pull.err
    assert git(repo, "status", "--porcelain") == ""
    accepted = cli("pull", "--allow-empty", cwd=repo)  # the way to record a real loss
    assert accepted.code == 0, accepted.err
    assert not (repo / "state" / CONFIG).exists()


def test_secret_added_to_a_mirrored_object_keeps_the_last_clean_version(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    clean = (repo / "state" / CONFIG).read_bytes()
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA1234\\n-----END RSA PRIVATE KEY-----"
    text = (store / CONFIG).read_text()
    (store / CONFIG).write_text(text.replace(
        "spec:\n", f"spec:\n  fileAssets:\n  - name: key\n    content: \"{pem}\"\n", 1))
    pull = cli("pull", cwd=repo)
    assert pull.code == 0, pull.err
    assert (repo / "state" / CONFIG).read_bytes() == clean
    assert CONFIG in pull.out + pull.err and "withheld" in pull.out + pull.err
    log = git(repo, "log", "-1", "--format=%B", "refs/kops-gitsync/observed/default")
    assert "D config" not in log and "config" in log
    again = cli("pull", cwd=repo)
    assert "up to date" in again.out and "read 0" in again.out


def test_editing_an_object_whose_store_version_is_withheld_says_why_it_conflicts(
    pulled: tuple[Path, Path], cli: Callable[..., Run]
) -> None:
    repo, store = pulled
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA1234\\n-----END RSA PRIVATE KEY-----"
    text = (store / CONFIG).read_text()
    (store / CONFIG).write_text(text.replace(
        "spec:\n", f"spec:\n  fileAssets:\n  - name: key\n    content: \"{pem}\"\n", 1))
    assert cli("pull", cwd=repo).code == 0
    edit(repo, CONFIG, "kubernetesVersion:", "# reviewed\n  kubernetesVersion:", "config")
    push = cli("push", "--yes", cwd=repo)
    assert push.code == 1 and CONFIG in push.err and "withheld from git" in push.err
    assert "-----BEGIN" in (store / CONFIG).read_text()  # the store's version untouched
