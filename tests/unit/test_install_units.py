"""``kops-gitsync install-units``: the packaged units land where systemd looks, naming the
installed script, and a locally changed unit is not overwritten without --force."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.cli.install_units import PACKAGED_EXECUTABLE, UNITS, packaged
from kops_gitsync.cli.main import main

UNIT_DIR = Path("etc/systemd/system")


def _install(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["install-units", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_writes_the_units_and_the_env_example_with_this_installation_s_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _install(capsys, "--prefix", str(tmp_path), "--executable", "/srv/k/bin/kg")
    assert status == 0
    for unit in UNITS:
        text = (tmp_path / UNIT_DIR / unit).read_text()
        assert "ExecStart=/srv/k/bin/kg daemon --repo /var/lib/kops-gitsync/" in text
        assert PACKAGED_EXECUTABLE not in text
        assert f"create: {tmp_path / UNIT_DIR / unit}" in out
    example = tmp_path / "etc/kops-gitsync/kops-gitsync.env.example"
    assert example.read_text() == packaged("kops-gitsync.env.example")
    assert stat.S_IMODE(example.parent.stat().st_mode) & 0o007 == 0  # credentials go here
    assert not (tmp_path / "etc/kops-gitsync/kops-gitsync.env").exists()  # never the real one
    assert "systemctl daemon-reload" in out

    status, out, _ = _install(capsys, "--prefix", str(tmp_path), "--executable", "/srv/k/bin/kg")
    assert status == 0 and out.count("unchanged: ") == 3


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _install(capsys, "--prefix", str(tmp_path), "--dry-run")
    assert status == 0 and "would create: " in out
    assert list(tmp_path.iterdir()) == []


def test_a_locally_changed_unit_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = tmp_path / UNIT_DIR / "kops-gitsync.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/bin/true\n")
    status, out, err = _install(capsys, "--prefix", str(tmp_path))
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and str(unit) in err and "--force" in err
    assert unit.read_text() == "[Service]\nExecStart=/usr/bin/true\n"
    status, out, _ = _install(capsys, "--prefix", str(tmp_path), "--force")
    assert status == 0 and f"replace: {unit}" in out
    assert "Type=notify" in unit.read_text()


def test_a_relative_executable_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _install(capsys, "--prefix", str(tmp_path), "--executable", "bin/kg")
    assert status == 1 and err.count("\n") == 1 and "absolute" in err


def test_the_installed_unit_passes_systemd_analyze(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    script = Path(sys.executable).parent / "kops-gitsync"
    if not script.is_file():
        pytest.skip(f"{script} is not installed (the package's console script)")
    status, _, _ = _install(capsys, "--prefix", str(tmp_path))  # default: this venv's script
    assert status == 0
    unit = tmp_path / UNIT_DIR / "kops-gitsync.service"
    assert f"ExecStart={script} daemon" in unit.read_text()
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=120)
    problems = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    if done.returncode != 0 and any("Failed to" in p and "bus" in p.lower() for p in problems):
        pytest.skip(f"systemd-analyze cannot run here: {problems[0]}")
    assert done.returncode == 0 and problems == [], "\n".join(problems)
