"""``kops-validate`` and ``kops-validate-merge`` through pre-commit, at real commits and merges."""

from __future__ import annotations

import re

import pytest

from kops_gitsync.sync.policy import Kind, classify
from tests.hooks.conftest import (
    INVALID,
    MakeRepo,
    Repo,
    Snapshot,
    fixture_store,
    intent_keys,
    output,
)

# variant -> (source store, the rule id the hook must report). The ids are the validation
# engine's; the mistakes are described in fixtures/invalid/README.md.
VARIANTS = {
    "01-subnet-cidr-outside-networkcidr": ("minimal-aws", "subnet-outside-network"),
    "02-ig-subnet-not-in-cluster": ("minimal-aws", "ig-subnet-exists"),
    "03-ig-minsize-greater-than-maxsize": ("minimal-aws", "ig-size-order"),
    "04-yaml-syntax-unterminated-quote": ("minimal-aws", "yaml-syntax"),
    "05-git-conflict-markers": ("minimal-aws", "conflict-markers"),
    "06-duplicate-key-kubernetesversion": ("minimal-aws", "yaml-duplicate-key"),
    "07-wrong-apiversion": ("minimal-aws", "api-version"),
    "08-cluster-name-mismatch-path-vs-metadata": ("minimal-aws", "cluster-name-mismatch"),
    "09-invalid-kubernetes-version": ("minimal-aws", "version-invalid"),
    "10-cluster-name-not-dns-subdomain": ("minimal-aws", "cluster-name-invalid"),
    "11-etcd-member-unknown-instancegroup": ("minimal-aws", "etcd-member-unknown-ig"),
    "12-etcd-even-member-count": ("ha", "etcd-member-count"),
    "13-networkcidr-overlaps-nonmasqueradecidr": ("minimal-aws", "network-overlaps-non-masquerade"),
    "14-control-plane-ig-size-above-one": ("minimal-aws", "ig-control-plane-size"),
    "15-ig-unsupported-role": ("minimal-aws", "ig-role"),
    "16-subnet-cidr-host-bits-set": ("minimal-aws", "cidr-host-bits"),
    "17-misspelled-field-kubernetesversion": ("minimal-aws", "schema-unknown-field"),
}
FINDING = re.compile(r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+): (?P<rule>[a-z0-9-]+): ", re.M)


def findings(text: str) -> list[tuple[str, str]]:
    return [(m["path"], m["rule"]) for m in FINDING.finditer(text)]


def test_every_invalid_variant_is_listed() -> None:
    assert sorted(VARIANTS) == sorted(p.name for p in INVALID.iterdir() if p.is_dir())


def _committed_store(
    make_repo: MakeRepo, store: str, hooks: tuple[str, ...] = ("kops-validate",)
) -> Repo:
    repo = make_repo(hooks=hooks)
    source = fixture_store(store)
    repo.copy_tree(source, "state", intent_keys(source))
    assert repo.commit(f"{store} as pulled").returncode == 0
    return repo


# kops stores these, so the hook warns (issue 15: errors only where kops or a later stage refuses)
WARNED_ONLY = {"06-duplicate-key-kubernetesversion"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_commit_of_invalid_variant_is_rejected_with_its_rule(
    make_repo: MakeRepo, variant: str
) -> None:
    store, rule = VARIANTS[variant]
    repo = _committed_store(make_repo, store)
    repo.copy_tree(INVALID / variant, "state")
    proc = repo.commit(f"break it: {variant}")
    if variant in WARNED_ONLY:  # kops stores it (last value wins): not refused
        assert proc.returncode == 0, output(proc)  # (pre-commit hides a passing hook's output)
        return
    assert proc.returncode == 1, output(proc)
    assert rule in [r for _, r in findings(output(proc))], output(proc)
    assert "kops cluster validation" in output(proc)
    assert repo.git("status", "--porcelain").stdout.strip()  # nothing was committed


def test_try_repo_rejects_invalid_variant_files(make_repo: MakeRepo, snapshot: Snapshot) -> None:
    """``pre-commit try-repo`` (how one tries a hook before adopting it) works too, on a
    store folder found by its ``<cluster>/config`` alone (no .kops-gitsync.yaml)."""
    repo = make_repo(hooks=())
    repo.copy_tree(INVALID / "02-ig-subnet-not-in-cluster", "clusters")
    repo.git("add", "-A")
    cluster = "clusters/minimal-aws.example.com"
    proc = repo.pre_commit(
        "try-repo",
        str(snapshot.path),
        "kops-validate",
        "--ref",
        snapshot.rev,
        "--files",
        f"{cluster}/config",
        f"{cluster}/instancegroup/nodes",
    )
    assert proc.returncode == 1, output(proc)
    assert (f"{cluster}/instancegroup/nodes", "ig-subnet-exists") in findings(output(proc))


@pytest.mark.parametrize(
    "store",
    ["minimal-aws", "privatecalico", "minimal_gce", "ha", "cluster-autoscaler-priority-expander"],
)
def test_fixture_store_passes_every_hook(make_repo: MakeRepo, store: str) -> None:
    repo = make_repo()
    source = fixture_store(store)
    # What pull would mirror: everything but secrets and backups, committed by pull itself.
    keys = [
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file()
        and classify(p.relative_to(source).as_posix()) not in (Kind.SECRET, Kind.BACKUP)
    ]
    repo.copy_tree(source, "state", keys)
    assert repo.commit("pull", verify=False).returncode == 0
    proc = repo.pre_commit("run", "--all-files", "kops-validate")
    assert proc.returncode == 0 and "Passed" in output(proc), output(proc)
    proc = repo.pre_commit("run", "--all-files", "kops-no-secrets")
    assert proc.returncode == 0, output(proc)
    # An ordinary review change then passes all five hooks at a real commit.
    ig = next(
        k for k in keys if "/instancegroup/" in k and b"role: Node" in (source / k).read_bytes()
    )
    text = repo.read(f"state/{ig}").decode()
    repo.write(
        f"state/{ig}", re.sub(r"maxSize: (\d+)", lambda m: f"maxSize: {int(m[1]) + 1}", text)
    )
    proc = repo.commit("grow an instance group")
    assert proc.returncode == 0, output(proc)


def test_edit_to_config_that_breaks_an_untouched_ig_is_caught(make_repo: MakeRepo) -> None:
    repo = _committed_store(make_repo, "ha")
    config = repo.read("state/ha.example.com/config")
    repo.write("state/ha.example.com/config", config.replace(b"us-test-1c", b"us-test-1d"))
    proc = repo.commit("rename a subnet")
    assert proc.returncode == 1
    assert ("state/ha.example.com/instancegroup/master-us-test-1c", "ig-subnet-exists") in findings(
        output(proc)
    ), output(proc)


def test_deleting_an_ig_etcd_still_names_is_caught(make_repo: MakeRepo) -> None:
    repo = _committed_store(make_repo, "ha")
    repo.git("rm", "-q", "state/ha.example.com/instancegroup/master-us-test-1c")
    proc = repo.git("commit", "-q", "-m", "drop a control-plane IG", check=False)
    assert proc.returncode == 1
    assert ("state/ha.example.com/config", "etcd-member-unknown-ig") in findings(output(proc)), (
        output(proc)
    )


def test_update_rule_uses_the_committed_cluster_as_previous(make_repo: MakeRepo) -> None:
    repo = _committed_store(make_repo, "ha")
    config = repo.read("state/ha.example.com/config").decode()
    events = config.index("  - etcdMembers:", config.index("name: main"))
    end = config.index("name: events") + len("name: events\n")
    repo.write("state/ha.example.com/config", config[:events] + config[end:])
    proc = repo.commit("drop etcd events")
    assert proc.returncode == 1
    assert "update-etcd-removed" in [r for _, r in findings(output(proc))], output(proc)


SECOND_SUBNET = b"""  - cidr: 172.20.64.0/19
    name: us-test-1b
    type: Public
    zone: us-test-1b
"""


def test_merge_of_two_valid_branches_into_an_invalid_cluster_is_stopped(
    make_repo: MakeRepo,
) -> None:
    repo = _committed_store(make_repo, "minimal-aws", ("kops-validate", "kops-validate-merge"))
    cluster = "state/minimal-aws.example.com"
    config = repo.read(f"{cluster}/config")
    with_b = config.replace(b"  topology:", SECOND_SUBNET + b"  topology:")
    repo.write(f"{cluster}/config", with_b)
    assert repo.commit("add subnet b").returncode == 0
    repo.git("checkout", "-q", "-b", "feature")
    nodes = repo.read(f"{cluster}/instancegroup/nodes")
    repo.write(
        f"{cluster}/instancegroup/extra",
        nodes.replace(b"name: nodes", b"name: extra").replace(b"- us-test-1a", b"- us-test-1b"),
    )
    assert repo.commit("extra IG in subnet b").returncode == 0, "valid on its own"
    repo.git("checkout", "-q", "main")
    repo.write(f"{cluster}/config", config)
    assert repo.commit("remove unused subnet b").returncode == 0, "valid on its own"
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode != 0
    assert (f"{cluster}/instancegroup/extra", "ig-subnet-exists") in findings(output(proc)), output(
        proc
    )
    assert "kops cluster validation of the merge result" in output(proc)
    assert repo.git("rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).returncode == 0
    repo.git("merge", "--abort")


def test_merge_of_independent_valid_changes_passes(make_repo: MakeRepo) -> None:
    repo = _committed_store(make_repo, "ha", ("kops-validate", "kops-validate-merge"))
    cluster = "state/ha.example.com"
    repo.git("checkout", "-q", "-b", "feature")
    nodes = repo.read(f"{cluster}/instancegroup/nodes")
    repo.write(f"{cluster}/instancegroup/nodes", nodes.replace(b"maxSize: 2", b"maxSize: 4"))
    assert repo.commit("grow nodes").returncode == 0
    repo.git("checkout", "-q", "main")
    config = repo.read(f"{cluster}/config")
    repo.write(f"{cluster}/config", config.replace(b"v1.32.0", b"v1.32.4"))
    assert repo.commit("patch release").returncode == 0
    proc = repo.git("merge", "--no-ff", "--no-edit", "feature", check=False)
    assert proc.returncode == 0, output(proc)
