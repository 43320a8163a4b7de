"""``kops-no-secrets`` and ``kops-no-derived-edits`` through pre-commit at real commits."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import MakeRepo, Repo, fixture_store, output
from tests.unit.test_secretscan import HCLOUD, OPENSTACK

HA = fixture_store("ha") / "ha.example.com"
MINIMAL = fixture_store("minimal-aws") / "minimal-aws.example.com"

# (where the file lands in the review repo, its bytes, the rule the hook must name)
SECRET_FORMS = {
    "keyset-privateMaterial": (
        "state/minimal-aws.example.com/pki/private/kubernetes-ca/keyset.yaml",
        (MINIMAL / "pki/private/kubernetes-ca/keyset.yaml").read_bytes(),
        "kops-keyset-private",
    ),
    "keyset-copied-elsewhere": (
        "notes/ca-backup.yaml",
        (MINIMAL / "pki/private/service-account/keyset.yaml").read_bytes(),
        "kops-keyset-private",
    ),
    "secrets-json": (
        "state/minimal-aws.example.com/secrets/admin",
        (MINIMAL / "secrets/admin").read_bytes(),
        "kops-secret",
    ),
    "secrets-json-colon-name": (
        "state/minimal-aws.example.com/secrets/system:dns",
        (MINIMAL / "secrets/system:dns").read_bytes(),
        "kops-secret",
    ),
    "legacy-raw-pem-key": (
        "state/ha.example.com/pki/private/ca/6982820025135291416230495506.key",
        (HA / "pki/private/ca/6982820025135291416230495506.key").read_bytes(),
        "pem-private-key",
    ),
    "hcloud-token-in-addon": (
        "state/h.example.com/addons/hcloud-cloud-controller.addons.k8s.io/k8s-1.22.yaml",
        HCLOUD,
        "k8s-secret-data",
    ),
    "openstack-password-in-addon": (
        "state/o.example.com/addons/openstack.addons.k8s.io/k8s-1.26.yaml",
        OPENSTACK,
        "password",
    ),
}


@pytest.mark.parametrize("form", sorted(SECRET_FORMS))
def test_each_secret_form_is_rejected(make_repo: MakeRepo, form: str) -> None:
    path, data, rule = SECRET_FORMS[form]
    repo = make_repo(hooks=("kops-no-secrets",))
    repo.write(path, data)
    proc = repo.commit(f"oops: {form}")
    assert proc.returncode == 1
    assert f"{path}:" in output(proc) and f": {rule}: " in output(proc), output(proc)


def test_store_that_mirrors_secrets_on_purpose_is_left_alone(make_repo: MakeRepo) -> None:
    config = "stores:\n- name: vault\n  path: encrypted\n  secrets: include\n"
    repo = make_repo(hooks=("kops-no-secrets",), config=config)
    path, data, _ = SECRET_FORMS["keyset-privateMaterial"]
    repo.write(path.replace("state/", "encrypted/"), data)
    assert repo.commit("secrets kept in an encrypted store").returncode == 0
    repo.write(path, data)  # the same bytes outside that store are still refused
    assert repo.commit("and outside it").returncode == 1


def _mirrored_ha(make_repo: MakeRepo) -> Repo:
    repo = make_repo(hooks=("kops-no-derived-edits", "kops-validate"))
    keys = [
        p.relative_to(HA.parent).as_posix()
        for p in HA.rglob("*")
        if p.is_file() and "/pki/private/" not in str(p) and "/secrets/" not in str(p)
    ]
    repo.copy_tree(HA.parent, "state", keys)
    assert repo.commit("pull", verify=False).returncode == 0
    return repo


DERIVED = [
    "cluster-completed.spec",
    "kops-version.txt",
    "igconfig/node/nodes/nodeupconfig.yaml",
    "manifests/etcd/main-master-us-test-1a.yaml",
    "addons/bootstrap-channel.yaml",
]


@pytest.mark.parametrize("key", DERIVED)
def test_hand_edit_of_a_derived_object_is_rejected(make_repo: MakeRepo, key: str) -> None:
    repo = _mirrored_ha(make_repo)
    path = f"state/ha.example.com/{key}"
    repo.write(path, repo.read(path) + b"\n# tweak\n")
    proc = repo.commit("hand edit")
    assert proc.returncode == 1
    assert f"  {path}" in output(proc) and "kops update cluster" in output(proc)


def test_deleting_a_derived_object_is_rejected(make_repo: MakeRepo) -> None:
    repo = _mirrored_ha(make_repo)
    repo.git("rm", "-q", "state/ha.example.com/kops-version.txt")
    proc = repo.git("commit", "-q", "-m", "drop", check=False)
    assert proc.returncode == 1 and "kops-version.txt" in output(proc)


def test_intent_edit_next_to_derived_objects_passes(make_repo: MakeRepo) -> None:
    repo = _mirrored_ha(make_repo)
    path = "state/ha.example.com/instancegroup/nodes"
    repo.write(path, repo.read(path).replace(b"maxSize: 2", b"maxSize: 3"))
    assert repo.commit("grow").returncode == 0


def _observed_commit(repo: Repo, version: bytes) -> str:
    """A store state as pull records it: a commit on refs/kops-gitsync/observed/default."""
    repo.git("checkout", "-q", "-b", "tmp-observed")
    repo.write("state/ha.example.com/kops-version.txt", version)
    spec = repo.read("state/ha.example.com/cluster-completed.spec")
    repo.write("state/ha.example.com/cluster-completed.spec", spec + b"# regenerated\n")
    assert repo.commit("store state", verify=False).returncode == 0
    sha = repo.git("rev-parse", "HEAD").stdout.strip()
    repo.git("update-ref", "refs/kops-gitsync/observed/default", sha)
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "tmp-observed")
    return sha


def test_merge_of_an_observed_store_state_passes(make_repo: MakeRepo) -> None:
    repo = _mirrored_ha(make_repo)
    sha = _observed_commit(repo, b"1.37.0")
    path = "state/ha.example.com/instancegroup/nodes"
    repo.write(path, repo.read(path).replace(b"maxSize: 2", b"maxSize: 3"))
    assert repo.commit("a review change meanwhile").returncode == 0
    proc = repo.git("merge", "--no-ff", "--no-edit", sha, check=False)
    assert proc.returncode == 0, output(proc)


def test_merge_of_an_ordinary_branch_with_derived_edits_is_rejected(make_repo: MakeRepo) -> None:
    repo = _mirrored_ha(make_repo)
    repo.git("checkout", "-q", "-b", "sneaky")
    repo.write("state/ha.example.com/kops-version.txt", b"1.99.0")
    assert repo.commit("bypassed the commit hook", verify=False).returncode == 0
    repo.git("checkout", "-q", "main")
    repo.write(
        "state/ha.example.com/instancegroup/nodes",
        repo.read("state/ha.example.com/instancegroup/nodes") + b"\n",
    )
    assert repo.commit("meanwhile").returncode == 0
    proc = repo.git("merge", "--no-ff", "--no-edit", "sneaky", check=False)
    assert proc.returncode != 0 and "kops-version.txt" in output(proc)
    repo.git("merge", "--abort")


def test_conflicted_pull_merge_is_committed_after_resolution(make_repo: MakeRepo) -> None:
    """After a conflict, ``git commit`` runs the pre-commit stage with MERGE_HEAD set."""
    repo = _mirrored_ha(make_repo)
    _observed_commit(repo, b"1.37.0")
    repo.write("state/ha.example.com/kops-version.txt", b"1.36.9")
    assert repo.commit("someone edited the version by hand", verify=False).returncode == 0
    proc = repo.git("merge", "--no-edit", "refs/kops-gitsync/observed/default", check=False)
    assert proc.returncode != 0 and "CONFLICT" in output(proc)
    repo.git("checkout", "-q", "--theirs", "state/ha.example.com/kops-version.txt")
    repo.git("add", "state/ha.example.com/kops-version.txt")
    proc = repo.git("commit", "-q", "--no-edit", check=False)
    assert proc.returncode == 0, output(proc)
    assert repo.read("state/ha.example.com/kops-version.txt") == b"1.37.0"


def test_hand_edit_inside_a_pull_merge_is_still_rejected(make_repo: MakeRepo) -> None:
    """Only content that a merged store state holds is exempt, not every derived path."""
    repo = _mirrored_ha(make_repo)
    _observed_commit(repo, b"1.37.0")
    path = "state/ha.example.com/kops-version.txt"
    repo.write(path, b"1.36.9")
    assert repo.commit("someone edited the version by hand", verify=False).returncode == 0
    proc = repo.git("merge", "--no-edit", "refs/kops-gitsync/observed/default", check=False)
    assert proc.returncode != 0 and "CONFLICT" in output(proc)
    repo.write(path, b"1.38.0-mine")  # resolved with neither side: a hand edit
    repo.git("add", path)
    proc = repo.git("commit", "-q", "--no-edit", check=False)
    assert proc.returncode == 1 and "kops-version.txt" in output(proc)
