"""``kops-no-secrets`` judges the files it is given, with pull's rules, through pre-commit.

pre-commit hands a hook the staged files in batches, and ``pre-commit run --files X``
hands it X alone; a hook that also scans every other staged file reports each secret once
per batch and blames files the user did not ask about. Through real ``pre-commit`` and real
commits, as a review repository runs it.
"""

from __future__ import annotations

import sys

from kops_gitsync.secretscan import findings
from tests.hooks.conftest import CHECKOUT, MakeRepo, output
from tests.unit.test_secret_corpus import CASES, JWT, ig_user_data

EXAMPLE = CHECKOUT / "examples" / "store"
IG = "state/prod.example.com/instancegroup/nodes-us-east-1a"
ADDON = "state/prod.example.com/addons/reporter/k8s-1.22.yaml"


def _two_staged_secrets(make_repo: MakeRepo):  # type: ignore[no-untyped-def]
    repo = make_repo(hooks=("kops-no-secrets",))
    jwt = CASES["jwt-command-line"]
    pw = CASES["env-db-password"]
    repo.write(IG, jwt.carrier(jwt.snippet))
    repo.write(ADDON, pw.carrier(pw.snippet))
    repo.git("add", "-A")
    return repo


def test_pre_commit_run_files_reports_that_file_only(make_repo: MakeRepo) -> None:
    repo = _two_staged_secrets(make_repo)
    proc = repo.pre_commit("run", "kops-no-secrets", "--files", IG)
    assert proc.returncode == 1, output(proc)
    assert f"{IG}:" in output(proc) and ": jwt: JWT token" in output(proc), output(proc)
    assert ADDON not in output(proc)


def test_hook_command_with_a_file_reports_that_file_only(make_repo: MakeRepo) -> None:
    repo = _two_staged_secrets(make_repo)
    proc = repo.run(sys.executable, "-m", "kops_gitsync", "hook", "no-secrets", ADDON, check=False)
    assert proc.returncode == 1, output(proc)
    assert f"{ADDON}:" in output(proc) and ": password: " in output(proc), output(proc)
    assert IG not in output(proc)


def test_hook_command_without_files_scans_every_staged_file(make_repo: MakeRepo) -> None:
    repo = _two_staged_secrets(make_repo)
    proc = repo.run(sys.executable, "-m", "kops_gitsync", "hook", "no-secrets", check=False)
    assert proc.returncode == 1 and IG in output(proc) and ADDON in output(proc), output(proc)


def test_named_file_not_staged_is_read_from_the_work_tree(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=("kops-no-secrets",))
    repo.write("notes/kubeconfig", f"users:\n- name: ci\n  user:\n    token: {JWT}\n")
    proc = repo.run(
        sys.executable, "-m", "kops_gitsync", "hook", "no-secrets", "notes/kubeconfig", check=False
    )
    assert proc.returncode == 1 and "notes/kubeconfig:4: jwt: JWT token" in output(proc)


def test_hand_commit_of_a_token_in_user_data_is_rejected(make_repo: MakeRepo) -> None:
    """The same detection as pull: a secret typed into an InstanceGroup by hand."""
    repo = make_repo(hooks=("kops-no-secrets",))
    repo.write(IG, ig_user_data(f"curl -H 'Authorization: Bearer {JWT}' https://x.example\n"))
    proc = repo.commit("bootstrap script")
    assert proc.returncode == 1
    assert f"{IG}:" in output(proc) and ": jwt: " in output(proc), output(proc)
    assert ": bearer-token: Bearer token" in output(proc)


def test_mirrored_example_store_commits_clean(make_repo: MakeRepo) -> None:
    repo = make_repo(hooks=("kops-no-secrets",))
    keys = [
        p.relative_to(EXAMPLE).as_posix()
        for p in EXAMPLE.rglob("*")
        if p.is_file() and not {"private", "secrets"} & set(p.relative_to(EXAMPLE).parts)
    ]
    assert keys and not any(findings((EXAMPLE / k).read_bytes()) for k in keys)
    repo.copy_tree(EXAMPLE, "state", keys)
    proc = repo.commit("pull")
    assert proc.returncode == 0, output(proc)


def test_each_secret_is_reported_once(make_repo: MakeRepo) -> None:
    """A plain ``pre-commit run`` (all staged files): one line per finding, no repeats."""
    repo = _two_staged_secrets(make_repo)
    proc = repo.pre_commit("run", "kops-no-secrets")
    assert proc.returncode == 1
    assert output(proc).count(f"{IG}:") == len(findings(repo.read(IG))), output(proc)
