"""tests/servers/kube_apiserver_build.sh without building anything: apt is replaced by fakes
on PATH, so these runs are hermetic and take well under a second.

A cached binary is found from the kept apt lists alone (apt-get is never run); a failure is
one line on stderr naming the step, and exit status 1.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "servers" / "kube_apiserver_build.sh"
VERSION = "1.20.5+really1.20.2-9test"
pytestmark = pytest.mark.skipif(
    not any(Path(p).exists() for p in ("/etc/apt/sources.list.d/debian.sources",
                                      "/etc/apt/sources.list")),
    reason="no Debian apt sources on this machine (the build script reads them)",
)


def fake_apt(bin_dir: Path, *, apt_get: str) -> None:
    bin_dir.mkdir()
    (bin_dir / "apt-cache").write_text(
        f"#!/bin/sh\necho 'Package: kubernetes'\necho 'Version: {VERSION}'\n")
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\n{apt_get}\n")
    for tool in ("apt-cache", "apt-get"):
        (bin_dir / tool).chmod(0o755)


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
             "KOPS_GITSYNC_CACHE": str(tmp_path / "cache"), **env},
    )


def test_a_cached_binary_is_printed_without_running_apt_get(tmp_path: Path) -> None:
    fake_apt(tmp_path / "bin", apt_get="echo apt-get must not run >&2; exit 9")
    binary = tmp_path / "cache" / f"kube-apiserver-{VERSION}" / "kube-apiserver"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    recipe = re.search(r"^RECIPE=(\S+)$", SCRIPT.read_text(), re.MULTILINE)
    assert recipe is not None
    Path(f"{binary}.recipe").write_text(recipe.group(1) + "\n")
    done = run(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{binary}\n", "")


@pytest.mark.parametrize(
    ("apt_get", "env", "step", "cause"),
    [
        ("echo 'E: Failed to fetch the lists' >&2; exit 100", {}, "apt-get update",
         "E: Failed to fetch the lists"),
        ("exit 0", {"GO": "/nonexistent/go"}, "build prerequisites",
         "missing /nonexistent/go (Debian package golang-1.19-go)"),
    ],
    ids=["apt-fails", "no-go"],
)
def test_a_failure_is_one_line_naming_the_step_and_its_cause(
    tmp_path: Path, apt_get: str, env: dict[str, str], step: str, cause: str,
) -> None:
    fake_apt(tmp_path / "bin", apt_get=apt_get)
    done = run(tmp_path, **env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"kube_apiserver_build.sh: kube-apiserver build failed at step "
                               f"'{step}")
    assert cause in lines[0]
    assert str(tmp_path / "cache" / "kube-apiserver-build.log") in lines[0]
