"""backup/configbase.py: the one-line configBase edit, the fields that still name the old
store, and the kops #2919 mismatch."""

from __future__ import annotations

import pytest

from kops_gitsync.backup.configbase import (
    config_base_line,
    mismatch,
    references,
    rewrite_config_base,
)
from kops_gitsync.errors import FatalError

CONFIG = b"""apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata:
  name: a.example.com   # keep me
spec:
  channel: stable
  configBase: %s   # where kops keeps it
  etcdClusters:
  - name: main
    backups:
      backupStore: s3://old/a.example.com/backups/etcd/main
  configStore:
    secrets: s3://older/a.example.com/secrets
"""


@pytest.mark.parametrize("written", [b"s3://old/a.example.com", b'"s3://old/a.example.com"',
                                     b"'s3://old/a.example.com'"])
def test_one_line_edit_keeps_every_other_byte(written: bytes) -> None:
    data = CONFIG % written
    edited, old = rewrite_config_base(data, "gs://new/a.example.com", "x")
    assert old == "s3://old/a.example.com"
    before, after = data.splitlines(), edited.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    line = changed[0][1]
    assert line.startswith(b"  configBase: ") and b"gs://new/a.example.com" in line
    assert changed[0][1].endswith(b"   # where kops keeps it")
    assert config_base_line(data) == 7


def test_flow_style_is_refused_not_reserialised() -> None:
    data = b"kind: Cluster\nspec: {configBase: s3://old/a, channel: stable}\n"
    with pytest.raises(FatalError, match=r"cannot rewrite spec\.configBase"):
        rewrite_config_base(data, "s3://new/a", "old/a/config")


def test_no_config_base_is_left_alone() -> None:
    data = b"kind: Cluster\nspec:\n  channel: stable\n"
    assert rewrite_config_base(data, "s3://new/a", "x") == (data, None)


def test_references_name_every_other_field() -> None:
    data = CONFIG % b"s3://old/a.example.com"
    found = references(data, ["s3://old", "s3://older"], "x")
    assert [(r.path, r.value) for r in found] == [
        ("spec.etcdClusters[0].backups.backupStore", "s3://old/a.example.com/backups/etcd/main"),
        ("spec.configStore.secrets", "s3://older/a.example.com/secrets"),
    ]
    assert references(data, ["s3://ol"], "x") == []  # a prefix of a bucket name is not it


def test_mismatch() -> None:
    data = CONFIG % b"s3://old/a.example.com"
    assert mismatch("s3://old", "a.example.com", data, "x") is None
    assert mismatch("s3://old/", "a.example.com", data, "x") is None
    message = mismatch("s3://new", "a.example.com", data, "x")
    assert message is not None
    assert "stored in s3://new but its spec.configBase is s3://old/a.example.com" in message
    assert "#2919" in message
    assert mismatch("k8s://", "a.example.com", data, "x") is None  # by design there
    local = CONFIG % b"file:///srv/kops/a.example.com"
    assert mismatch("/srv/kops", "a.example.com", local, "x") is None
