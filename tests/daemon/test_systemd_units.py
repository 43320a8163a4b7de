"""The systemd units: ``systemd-analyze verify`` clean, notify type, hardening, and no
credentials anywhere but the EnvironmentFile."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).parents[2] / "kops_gitsync" / "systemd"  # package data
UNITS = ["kops-gitsync.service", "kops-gitsync@.service"]
INSTALLED_PATH = "/opt/kops-gitsync/bin/kops-gitsync"


def unit_text(name: str) -> str:
    return (SYSTEMD / name).read_text()


def directives(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit_text(name).splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify_is_clean(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    executable = Path(sys.executable).parent / "kops-gitsync"
    assert executable.exists(), "the package's console script is not installed in this venv"
    # verify checks that ExecStart exists, so point it at this checkout's entry point.
    text = unit_text(unit)
    assert INSTALLED_PATH in text
    target = tmp_path / unit.replace("@.", "@review.")  # a template is verified as an instance
    target.write_text(text.replace(INSTALLED_PATH, str(executable)))
    done = subprocess.run([analyze, "verify", str(target)], capture_output=True, text=True,
                          timeout=120)
    problems = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    if done.returncode != 0 and any("Failed to" in p and "bus" in p.lower() for p in problems):
        pytest.skip(f"systemd-analyze cannot run here: {problems[0]}")
    assert done.returncode == 0 and problems == [], "\n".join(problems)


def test_verify_would_catch_a_bad_unit(tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt key is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    executable = Path(sys.executable).parent / "kops-gitsync"
    bad = tmp_path / "bad.service"
    bad.write_text(unit_text("kops-gitsync.service").replace(INSTALLED_PATH, str(executable))
                   .replace("Type=notify", "Type=notify\nRestartt=always"))
    done = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert "Restartt" in done.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_notify_type_restart_and_hardened(unit: str) -> None:
    d = directives(unit)
    assert d["Type"] == ["notify"] and d["Restart"] == ["on-failure"]
    assert d["KillMode"] == ["mixed"]  # SIGTERM to the daemon only, which finishes its push
    assert "WatchdogSec" in d and d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("PrivateTmp", "yes"), ("ProtectHome", "yes")]:
        assert d[key] == [value], key
    assert d["ReadWritePaths"] and d["CapabilityBoundingSet"] == [""]


def test_template_is_per_repository() -> None:
    d = directives("kops-gitsync@.service")
    assert "--repo /var/lib/kops-gitsync/%i" in d["ExecStart"][0]
    assert d["ReadWritePaths"] == ["/var/lib/kops-gitsync/%i"]
    assert "-/etc/kops-gitsync/%i.env" in d["EnvironmentFile"]


SECRET_NAMES = ("SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY", "CREDENTIAL")


@pytest.mark.parametrize("unit", UNITS)
def test_no_credentials_in_the_units(unit: str) -> None:
    d = directives(unit)
    for value in d.get("Environment", []):
        assert not any(name in value.upper() for name in SECRET_NAMES), value
    assert all(v.startswith("-/etc/kops-gitsync/") for v in d["EnvironmentFile"])


def test_environment_example_sets_nothing_by_itself() -> None:
    lines = (SYSTEMD / "kops-gitsync.env.example").read_text().splitlines()
    active = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert active == []
    assert any(line.startswith("#AWS_ACCESS_KEY_ID=") for line in lines)
