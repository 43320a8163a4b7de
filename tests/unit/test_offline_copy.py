"""``kops-gitsync offline-copy``: every store URL under configBase points into the copy, the
rest is byte for byte the mirror, and the mirror itself is untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kops_gitsync.cli.main import main
from tests.conftest import FIXTURE_STORES

CLUSTER = "minimal-aws.example.com"
LIVE = f"s3://kops-state-prod/{CLUSTER}"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A mirror as a pull leaves it: the fixture store with a real-looking configBase."""
    state = tmp_path / "repo" / "state"
    shutil.copytree(FIXTURE_STORES / "minimal-aws", state)
    for name in ("config", "cluster-completed.spec"):
        path = state / CLUSTER / name
        path.write_text(path.read_text().replace(f"memfs://clusters.example.com/{CLUSTER}", LIVE))
    return state


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_copy_names_only_itself(
    mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(mirror)
    dest = tmp_path / "review"
    assert main(["offline-copy", str(dest), "--from", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert f"kops get clusters --state file://{dest}" in out and "warning" not in out
    assert _files(mirror) == before
    copy = _files(dest)
    assert set(copy) == set(before)
    base = f"file://{dest}/{CLUSTER}"
    config = copy[f"{CLUSTER}/config"].decode()
    assert f"  configBase: {base}\n" in config and "s3://" not in config
    spec = copy[f"{CLUSTER}/cluster-completed.spec"].decode()
    assert f"keyStore: {base}/pki\n" in spec and f"backupStore: {base}/backups/etcd/main" in spec
    assert "s3://" not in spec
    changed = {name for name in copy if copy[name] != before[name]}
    assert changed == {f"{CLUSTER}/config", f"{CLUSTER}/cluster-completed.spec"}
    # only the URLs changed: the same lines, in the same order
    assert len(config.splitlines()) == len(before[f"{CLUSTER}/config"].decode().splitlines())


def test_a_store_url_outside_configbase_is_reported(
    mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = mirror / CLUSTER / "config"
    config.write_text(config.read_text().replace(
        f"  configBase: {LIVE}\n", f"  configBase: {LIVE}\n  keyStore: s3://other-bucket/pki\n"))
    assert main(["offline-copy", str(tmp_path / "review"), "--from", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "keyStore still names s3://other-bucket/pki" in out


@pytest.mark.parametrize("case", ["not-a-mirror", "dest-not-empty"])
def test_bad_input_is_one_line(
    case: str, mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "review"
    source = mirror
    if case == "not-a-mirror":
        source = tmp_path / "empty"
        source.mkdir()
    else:
        dest.mkdir()
        (dest / "x").write_text("")
    assert main(["offline-copy", str(dest), "--from", str(source)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
