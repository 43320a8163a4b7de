"""The structural merge driver: independent edits merge, real conflicts stop, formatting stays.

Most cases are built from the ``ha`` fixture Cluster by text edits, so every expectation is
"exactly these lines changed"; one test runs the driver through a real ``git merge``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.merge import line_merge, merge_files
from tests.conftest import FIXTURE_STORES

HA = (FIXTURE_STORES / "ha" / "ha.example.com" / "config").read_bytes()
NODES = (FIXTURE_STORES / "ha" / "ha.example.com" / "instancegroup" / "nodes").read_bytes()

SUBNET_D = b"""  - cidr: 172.20.128.0/19
    name: us-test-1d
    type: Public
    zone: us-test-1d
"""
SUBNET_E = b"""  - cidr: 172.20.160.0/19
    name: us-test-1e
    type: Public
    zone: us-test-1e
"""
TOPOLOGY = b"  topology:\n"


def edit(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


def test_independent_key_edits_merge_and_nothing_else_changes() -> None:
    ours = edit(HA, b"kubernetesVersion: v1.32.0", b"kubernetesVersion: v1.33.1")
    theirs = edit(HA, b"channel: stable", b"channel: alpha")
    result = merge_files(HA, ours, theirs, "config")
    assert result.clean and result.structural
    assert result.text == edit(ours, b"channel: stable", b"channel: alpha")


def test_subnets_added_on_both_sides_merge_by_name() -> None:
    ours = edit(HA, TOPOLOGY, SUBNET_D + TOPOLOGY)
    theirs = edit(HA, TOPOLOGY, SUBNET_E + TOPOLOGY)
    # git's own line merge cannot do this: both sides appended at the same place.
    _, line_conflicts = line_merge(HA, ours, theirs, ("o", "b", "t"))
    assert line_conflicts == 1
    result = merge_files(HA, ours, theirs, "config")
    assert result.clean
    assert result.text == edit(HA, TOPOLOGY, SUBNET_D + SUBNET_E + TOPOLOGY)


def test_edit_of_one_subnet_and_removal_of_another_merge() -> None:
    ours = edit(HA, b"cidr: 172.20.32.0/19", b"cidr: 172.20.0.0/19")
    removed = b"""  - cidr: 172.20.96.0/19
    name: us-test-1c
    type: Public
    zone: us-test-1c
"""
    theirs = edit(HA, removed, b"")
    result = merge_files(HA, ours, theirs, "config")
    assert result.clean
    assert result.text == edit(ours, removed, b"")


def test_etcd_members_merge_by_name_inside_named_etcd_clusters() -> None:
    # ours: events member "b" gets an encrypted volume; theirs: main member "c" moves.
    events_b = b"""    - instanceGroup: master-us-test-1b
      name: b
    - instanceGroup: master-us-test-1c
      name: c
    manager:
      backupRetentionDays: 90
    name: events"""
    ours = edit(
        HA,
        events_b,
        events_b.replace(b"      name: b\n", b"      encryptedVolume: true\n      name: b\n"),
    )
    main_c = b"""    - instanceGroup: master-us-test-1c
      name: c
    manager:
      backupRetentionDays: 90
    name: main"""
    theirs = edit(HA, main_c, main_c.replace(b"master-us-test-1c", b"master-us-test-1d"))
    result = merge_files(HA, ours, theirs, "config")
    assert result.clean
    assert result.text == edit(
        ours, main_c, main_c.replace(b"master-us-test-1c", b"master-us-test-1d")
    )


def test_conflicting_values_stop_with_markers_around_that_value_only() -> None:
    ours = edit(HA, b"kubernetesVersion: v1.32.0", b"kubernetesVersion: v1.33.0")
    ours = edit(ours, b"channel: stable", b"channel: alpha")
    theirs = edit(HA, b"kubernetesVersion: v1.32.0", b"kubernetesVersion: v1.34.0")
    result = merge_files(HA, ours, theirs, "config")
    assert not result.clean
    assert result.conflicts == ["spec.kubernetesVersion"]
    text = result.text.decode()
    assert "<<<<<<< ours:config\n  kubernetesVersion: v1.33.0\n=======\n" in text
    assert "  kubernetesVersion: v1.34.0\n>>>>>>> theirs:config\n" in text
    assert "channel: alpha" in text  # the independent edit is merged around the conflict
    assert text.count("<<<<<<<") == 1


def test_same_named_item_changed_differently_conflicts() -> None:
    ours = edit(HA, b"cidr: 172.20.64.0/19", b"cidr: 172.20.128.0/19")
    theirs = edit(HA, b"cidr: 172.20.64.0/19", b"cidr: 172.20.192.0/19")
    result = merge_files(HA, ours, theirs, "config")
    assert result.conflicts == ["spec.subnets[name=us-test-1b].cidr"]
    assert b"<<<<<<<" in result.text


def test_delete_against_modify_conflicts() -> None:
    ours = edit(HA, b"  kubelet:\n    anonymousAuth: false\n", b"")
    theirs = edit(HA, b"anonymousAuth: false", b"anonymousAuth: true")
    result = merge_files(HA, ours, theirs, "config")
    assert result.conflicts == ["spec.kubelet"]
    assert b">>>>>>>" in result.text


def test_scalar_lists_are_values_not_sets() -> None:
    ours = edit(NODES, b"  - us-test-1c\n", b"")
    theirs = edit(NODES, b"  - us-test-1c\n", b"  - us-test-1c\n  - us-test-1d\n")
    result = merge_files(NODES, ours, theirs, "instancegroup/nodes")
    assert result.conflicts == ["spec.subnets"]


def test_comments_quotes_and_blank_lines_survive() -> None:
    base = edit(
        HA,
        b"  kubernetesVersion: v1.32.0\n",
        b"\n  # pinned: see TICKET-12\n  kubernetesVersion: v1.32.0  # LTS\n",
    )
    base = edit(
        base,
        b"  masterPublicName:",
        b'  masterInternalName: "api.internal.ha.example.com"\n  masterPublicName:',
    )
    ours = edit(base, b"channel: stable", b"channel: regular")
    theirs = edit(
        base, b"backupRetentionDays: 90\n    name: main", b"backupRetentionDays: 30\n    name: main"
    )
    result = merge_files(base, ours, theirs, "config")
    assert result.clean
    assert result.text == edit(
        ours, b"backupRetentionDays: 90\n    name: main", b"backupRetentionDays: 30\n    name: main"
    )


def test_indented_sequence_style_is_kept() -> None:
    base = b"spec:\n  subnets:\n    - name: a\n      cidr: 10.0.0.0/24\n  zone: x\n"
    ours = base.replace(b"zone: x", b"zone: y")
    theirs = base.replace(b"10.0.0.0/24", b"10.0.1.0/24")
    result = merge_files(base, ours, theirs)
    assert result.text == b"spec:\n  subnets:\n    - name: a\n      cidr: 10.0.1.0/24\n  zone: y\n"


@pytest.mark.parametrize(
    "broken",
    [b"spec: {\n", b"a: 1\na: 2\n", b"a: 1\n---\nb: 2\n"],
    ids=["syntax-error", "duplicate-key", "two-documents"],
)
def test_unparseable_side_falls_back_to_line_merge(broken: bytes) -> None:
    base = b"x: 1\n"
    result = merge_files(base, broken, b"x: 2\n")
    assert not result.structural
    expected, conflicts = line_merge(base, broken, b"x: 2\n", ("ours", "base", "theirs"))
    assert result.text == expected
    assert bool(result.conflicts) == bool(conflicts)


def test_alias_bomb_is_not_expanded() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)
    ]
    bomb = ("\n".join(levels) + "\n").encode()
    result = merge_files(b"x: 1\n", bomb, b"x: 2\n")
    assert not result.structural and result.conflicts == ["line merge: uses YAML aliases"]


def test_globs_and_wildcard_hosts_are_not_aliases() -> None:
    base = b'spec:\n  additionalSans: ["*.example.com"]\n  zone: a\n  x: 1\n'
    result = merge_files(base, base.replace(b"zone: a", b"zone: b"), base.replace(b"x: 1", b"x: 2"))
    assert result.structural and result.clean


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_driver_through_git_merge(tmp_path: Path) -> None:
    """git calls the driver (via .gitattributes) and the merge commits without help."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    driver = f"{sys.executable} -m kops_gitsync merge-driver %O %A %B %P"
    _git(repo, "config", "merge.kops-yaml.driver", driver)
    (repo / ".gitattributes").write_text("/state/*/config merge=kops-yaml\n")
    config = repo / "state" / "ha.example.com" / "config"
    config.parent.mkdir(parents=True)
    config.write_bytes(HA)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    config.write_bytes(edit(HA, TOPOLOGY, SUBNET_E + TOPOLOGY))
    _git(repo, "commit", "-q", "-am", "subnet e")
    _git(repo, "checkout", "-q", "main")
    config.write_bytes(edit(HA, TOPOLOGY, SUBNET_D + TOPOLOGY))
    _git(repo, "commit", "-q", "-am", "subnet d")
    _git(repo, "merge", "-q", "--no-edit", "feature")
    assert config.read_bytes() == edit(HA, TOPOLOGY, SUBNET_D + SUBNET_E + TOPOLOGY)

    # A real conflict stops the merge with markers and an unmerged path.
    _git(repo, "checkout", "-q", "-b", "other", "HEAD~2")
    config.write_bytes(edit(HA, b"v1.32.0", b"v1.34.0"))
    _git(repo, "commit", "-q", "-am", "1.34")
    _git(repo, "checkout", "-q", "main")
    config.write_bytes(edit(config.read_bytes(), b"v1.32.0", b"v1.33.0"))
    _git(repo, "commit", "-q", "-am", "1.33")
    proc = subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "both sides changed spec.kubernetesVersion" in proc.stderr + proc.stdout
    assert _git(repo, "diff", "--name-only", "--diff-filter=U").split() == [
        "state/ha.example.com/config"
    ]
    merged = config.read_text()
    assert "<<<<<<< ours" in merged and "us-test-1e" in merged


def test_a_comment_only_edit_is_not_lost_when_the_other_side_changes_a_value() -> None:
    """A reviewed comment must survive (or conflict), never vanish silently."""
    from kops_gitsync.merge import merge_files

    base = b"spec:\n  maxSize: 1\n  minSize: 1\n"
    ours = b"spec:\n  maxSize: 1\n  # reviewed: keep one\n  minSize: 1\n"
    theirs = b"spec:\n  maxSize: 11\n  minSize: 1\n"
    result = merge_files(base, ours, theirs, "ig")
    assert b"# reviewed" in result.text or not result.clean
    assert b"maxSize: 11" in result.text or not result.clean
