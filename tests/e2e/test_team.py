"""A team, end to end, exactly as docs/review-flow.md and docs/runbook.md tell it: one bare
git remote (the host), one production store (file://, and moto S3 where the object's
metadata must name the reviewed commit), person A (the operator who holds the
store's write credentials), person B (a teammate with read access), and the daemon run from
cron (``kops-gitsync daemon --once --push-remote``) in a third clone. Every step is the
command the docs give, run as a subprocess with the plain git hooks that ``kops-gitsync
install-hooks`` installs; the host's merge button is a merge in a throw-away clone.

It found: the daemon recorded A's write as an anonymous store change and published that, so
the clones' observed histories split for good and only A could trace the write to its
review (push --yes now publishes its observed commit, sync/publish.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon.conftest import copy_fixture_store

pytestmark = pytest.mark.slow

CLUSTER = "minimal-aws.example.com"
NODES = f"state/{CLUSTER}/instancegroup/nodes"
OBSERVED = "refs/kops-gitsync/observed/prod"


def run(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if ok:
        assert done.returncode == 0, f"{' '.join(args)} in {cwd.name}:\n{done.stdout}{done.stderr}"
    return done


def git(cwd: Path, *args: str, ok: bool = True) -> str:
    return run(cwd, "git", *args, ok=ok).stdout


def kgs(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "kops_gitsync", *args, ok=ok)


def newest_observed(clone: Path) -> str:
    """The newest observed commit this clone can reach, as kops-gitsync finds it."""
    done = run(clone, sys.executable, "-c", (
        "from kops_gitsync.sync.context import open_contexts\n"
        "from kops_gitsync.sync.observed import observed_tip\n"
        "import os\n"
        "(ctx,) = open_contexts(None, 'prod', None, os.environ)\n"
        "print(observed_tip(ctx))\n"
    ))
    return done.stdout.strip()


def clone(origin: Path, where: Path, name: str, hooks: bool = True) -> Path:
    """``git clone``, a git identity, and the hooks (runbook: onboarding a teammate)."""
    git(where, "clone", "-q", str(origin), name)
    path = where / name
    git(path, "config", "user.name", name)
    git(path, "config", "user.email", f"{name}@example.com")
    if hooks:
        kgs(path, "install-hooks")
    return path


@dataclass
class Team:
    tmp: Path
    origin: Path
    a: Path
    url: str
    read: Callable[[str], bytes]  # a store key, read with the scheme's own client


def _file_store(tmp_path: Path) -> tuple[str, Callable[[str], bytes]]:
    store = copy_fixture_store(tmp_path / "store")
    for path in [store, *store.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return f"file://{store}", lambda key: (store / key).read_bytes()


def _s3_store(moto: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Callable[[str], bytes]]:
    from tests.e2e.test_e2e_s3 import fixture_objects
    from tests.servers.s3 import admin_client, new_bucket, s3_env

    client, bucket = admin_client(moto), new_bucket(moto)
    for key, data in fixture_objects("minimal-aws").items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    for name, value in s3_env(moto).items():
        monkeypatch.setenv(name, value)  # every clone's kops-gitsync inherits them
    return f"s3://{bucket}", lambda key: bytes(
        client.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(params=["file", "s3"])
def team(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Team:
    if request.param == "s3":
        url, read = _s3_store(request.getfixturevalue("moto_server"), monkeypatch)
    else:
        url, read = _file_store(tmp_path)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    # runbook, "Creating the review repository": the config and the first pull go to main
    # before the hooks exist (there is nothing to review yet), then the hooks
    a = clone(origin, tmp_path, "a", hooks=False)
    (a / ".kops-gitsync.yaml").write_text(
        f"stores:\n- name: prod\n  state: {url}\n  path: state\n"
        "  production: true\n  approved_branches: [main]\n"
    )
    git(a, "add", ".kops-gitsync.yaml")
    git(a, "commit", "-qm", "kops-gitsync: the prod store")
    kgs(a, "pull")
    kgs(a, "install-hooks")
    git(a, "add", ".gitattributes")  # hooks.md: commit it so everyone gets the merge driver
    git(a, "commit", "-qm", "kops-yaml merge driver for the mirror")
    git(a, "push", "-q", "-u", "origin", "main")
    return Team(tmp_path, origin, a, url, read)


def host_merge(origin: Path, tmp: Path, branch: str) -> None:
    """The git host's merge button: a merge commit on main, made on the host (no hooks)."""
    host = tmp / f"host-{branch}"
    git(tmp, "clone", "-q", str(origin), host.name)
    git(host, "-c", "user.name=host", "-c", "user.email=host@example.com",
        "merge", "--no-ff", "--no-edit", f"origin/{branch}")
    git(host, "push", "-q", "origin", "main")


def test_team_review_push_daemon_agree(team: Team) -> None:
    tmp, origin, a = team.tmp, team.origin, team.a

    # the daemon's clone, run from cron as operations.md shows
    d = clone(origin, tmp, "daemon", hooks=False)  # operations.md installs no hooks there
    kgs(d, "daemon", "--once", "--push-remote", "--repo", str(d))

    # B: onboarding, as the runbook says (the observed refs are published by the daemon)
    b = clone(origin, tmp, "b")
    for fetched in (False, True):  # a plain clone finds the store state in main too
        if fetched:
            git(b, "fetch", "origin",
                "+refs/kops-gitsync/observed/*:refs/kops-gitsync/observed/*")
        status = kgs(b, "status").stdout
        assert "never pulled" not in status
        assert "store ahead: 0 " in status and "git ahead: 0 " in status, status

    # B proposes on a feature branch (review-flow: propose); the hooks let it through
    git(b, "switch", "-q", "-c", "bigger-nodes")
    nodes = b / NODES
    nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 5"))
    git(b, "commit", "-qam", "nodes: allow five")
    proposal = git(b, "rev-parse", "HEAD").strip()
    git(b, "push", "-q", "-u", "origin", "bigger-nodes")

    # review and merge on the host
    host_merge(origin, tmp, "bigger-nodes")

    # A (store credentials) on the approved branch: git pull, the plan, then --yes
    git(a, "switch", "-q", "main")
    git(a, "pull", "-q", "--no-rebase")
    plan = kgs(a, "push").stdout
    assert f"{CLUSTER}/instancegroup/nodes" in plan
    kgs(a, "push", "--yes")
    assert b"maxSize: 5" in team.read(f"{CLUSTER}/instancegroup/nodes")
    reviewed = git(a, "rev-parse", "HEAD").strip()
    assert git(a, "merge-base", "--is-ancestor", proposal, reviewed, ok=False) == ""

    # the daemon's next turn pulls and publishes
    kgs(d, "daemon", "--once", "--push-remote", "--repo", str(d))

    # A's next pull: a no-op or one clean merge; then everyone catches up with git pull
    before = git(a, "rev-parse", "HEAD").strip()
    kgs(a, "pull")
    assert git(a, "rev-list", "--first-parent", "--count", f"{before}..HEAD").strip() in ("0", "1")
    git(a, "pull", "-q", "--no-rebase")
    git(b, "switch", "-q", "main")
    git(b, "pull", "-q", "--no-rebase")
    for who in (a, b, d):
        git(who, "fetch", "-q", "origin",
            "+refs/kops-gitsync/observed/*:refs/kops-gitsync/remotes/origin/observed/*")
    tips = {who.name: newest_observed(who) for who in (a, b, d)}
    assert len(set(tips.values())) == 1, tips
    # ... and that observed commit traces the store's write to the reviewed commit
    log = kgs(b, "log", f"{CLUSTER}/instancegroup/nodes").stdout
    assert f"pushed from main at {reviewed}" in log, log
    assert team.read(f"{CLUSTER}/instancegroup/nodes") == (b / NODES).read_bytes()
    if team.url.startswith("s3://"):  # and the object says so itself
        assert f"now: last written by kops-gitsync from main at {reviewed}" in log, log


def test_unreviewed_local_commit_on_main_is_refused(team: Team) -> None:
    a = team.a
    nodes = a / NODES
    nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 9"))
    git(a, "commit", "-qam", "straight on main", "--no-verify")  # the hook would refuse it
    refused = kgs(a, "push", "--yes", ok=False)
    assert refused.returncode == 1
    assert "review" in refused.stderr and refused.stderr.count("\n") <= 3, refused.stderr
    assert b"maxSize: 2" in team.read(f"{CLUSTER}/instancegroup/nodes")


def test_a_refused_publish_warns_and_the_write_stands(team: Team) -> None:
    """The remote's observed ref moved where A's clone cannot follow (here: an unrelated
    commit): push --yes still succeeds, says the record was not published, and how to retry."""
    tmp, origin, a = team.tmp, team.origin, team.a
    other = clone(origin, tmp, "other", hooks=False)
    tree = git(other, "write-tree").strip()
    stray = git(other, "commit-tree", tree, "-m", "not an observed state").strip()
    git(other, "push", "-q", "origin", f"{stray}:{OBSERVED}")

    git(a, "switch", "-q", "-c", "five")
    nodes = a / NODES
    nodes.write_text(nodes.read_text().replace("maxSize: 2", "maxSize: 5"))
    git(a, "commit", "-qam", "nodes: five")
    git(a, "push", "-q", "-u", "origin", "five")
    host_merge(origin, tmp, "five")
    git(a, "switch", "-q", "main")
    git(a, "pull", "-q", "--no-rebase")
    done = kgs(a, "push", "--yes")
    assert f"warning: the store write is recorded on {OBSERVED} here, but origin refused" \
        in done.stdout, done.stdout
    assert f"`git push origin {OBSERVED}` retries" in done.stdout
    assert b"maxSize: 5" in team.read(f"{CLUSTER}/instancegroup/nodes")
