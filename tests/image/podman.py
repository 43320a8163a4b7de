"""Podman as deploy/image/build.sh runs it, for the container image tests.

The image lives in the script's own podman storage under the cache (``$CACHE/podman/<driver>``,
the driver it chose recorded in ``$CACHE/podman/driver``), with the flags this kind of machine
needs: runc, cgroupfs, explicit ulimits. Keep :func:`podman` in step with ``PODMAN`` and
``ULIMITS`` in build.sh.

``tests/run.sh`` builds the image and exports ``KOPS_GITSYNC_IMAGE``; then the image tests are
required. Without it they skip with one line naming the script.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.kube_apiserver import CACHE

BUILD_SCRIPT = "deploy/image/build.sh"
IMAGE_VAR = "KOPS_GITSYNC_IMAGE"
DRIVER_VAR = "KOPS_GITSYNC_PODMAN_DRIVER"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
UID = 65532


def driver() -> str:
    chosen = os.environ.get(DRIVER_VAR, "auto")
    if chosen == "auto":
        recorded = CACHE / "podman" / "driver"
        chosen = recorded.read_text().strip() if recorded.exists() else "vfs"
    return chosen


def podman(*args: str) -> list[str]:
    """The podman command line for ``args`` (``run ...``, ``rm -f NAME``)."""
    root = CACHE / "podman" / driver()
    state = Path("/run/kops-gitsync-podman") / hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return ["podman", "--root", str(root), "--runroot", str(state / "run"),
            "--tmpdir", str(state / "tmp"), "--storage-driver", driver(),
            "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args]


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``podman run --rm`` with the ulimits, then ``args`` (options, image, command)."""
    return subprocess.run(podman("run", "--rm", *ULIMITS, *args), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def require_image() -> str:
    """The image name, or skip (fail when tests/run.sh promised one) with a one-line reason."""
    image = os.environ.get(IMAGE_VAR)
    if not image:
        pytest.skip(f"no {IMAGE_VAR}: run bash {BUILD_SCRIPT} and export what it prints "
                    "(tests/run.sh does)")
    if shutil.which("podman") is None:
        pytest.fail(f"{IMAGE_VAR} is set but podman is missing (tests/debian-packages.txt)")
    done = subprocess.run(podman("image", "exists", image), capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{IMAGE_VAR}={image} is not in {CACHE / 'podman' / driver()}: "
                    f"run bash {BUILD_SCRIPT}")
    return image


def give_to_container_user(*paths: Path) -> None:
    """Make ``paths`` (recursively) the container user's, as an fsGroup-ed volume would be."""
    for path in paths:
        subprocess.run(["chown", "-R", f"{UID}:{UID}", str(path)], check=True)


@contextlib.contextmanager
def container(name: str, *args: str) -> Iterator[str]:
    """A detached container (``podman run -d --name name args``), always removed at the end."""
    started = subprocess.run(podman("run", "-d", "--name", name, *ULIMITS, *args),
                             capture_output=True, text=True, timeout=180,
                             stdin=subprocess.DEVNULL)
    try:
        assert started.returncode == 0, f"podman run -d failed: {started.stderr}"
        yield name
    finally:
        subprocess.run(podman("rm", "-f", "-t", "5", name), capture_output=True, timeout=120)


def state(name: str) -> str:
    """``running``, ``exited``, ... of a container (empty when it is gone)."""
    done = subprocess.run(podman("inspect", "--format", "{{.State.Status}}", name),
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def logs(name: str) -> str:
    done = subprocess.run(podman("logs", name), capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr
