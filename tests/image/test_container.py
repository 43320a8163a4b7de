"""The container image (deploy/image/Containerfile, built by deploy/image/build.sh): it runs as
uid 65532 on a read-only root without network, runs the daemon against mounted repositories and
stores, reaches a real API server with a mounted kubeconfig, and keeps a membership Lease there.

Skipped with a one-line reason unless ``KOPS_GITSYNC_IMAGE`` names a built image (tests/run.sh
builds it and exports it, and then these tests are required). Every container is removed at the
end of its test, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_STORES
from tests.daemon.conftest import copy_fixture_store, make_repo, pull_commits
from tests.image import podman
from tests.servers.k8s import write_kubeconfig
from tests.servers.kube_apiserver import RealKubeApiServer
from tests.servers.s3 import admin_client, new_bucket, s3_env

pytestmark = pytest.mark.slow

LABEL = "app.kubernetes.io/name=kops-gitsync"
# The store is "dev" and its mirror lands under state/<cluster>/ (tests/daemon/conftest.py).
STORE = "dev"
TOP = Path(__file__).resolve().parents[2]


@pytest.fixture
def image() -> str:
    return podman.require_image()


@pytest.fixture
def host_git_trusts_container_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The repositories here belong to uid 65532; the host's git (as root) reads them too."""
    gitconfig = Path.home() / ".gitconfig"
    gitconfig.write_text(gitconfig.read_text() + "[safe]\n\tdirectory = *\n")


@pytest.fixture
def namespace(real_kube_api: RealKubeApiServer) -> str:
    """A fresh namespace (the test server never finishes deleting one)."""
    name = f"image-{uuid.uuid4().hex[:10]}"
    status, answer = real_kube_api.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert status == 201, answer
    return name


def kube_dir(tmp_path: Path, api: RealKubeApiServer) -> Path:
    """A directory to mount at /kube: ``config`` (token, server URL) and its ``ca.crt``."""
    kube = tmp_path / "kube"
    kube.mkdir()
    shutil.copy(api.ca_file, kube / "ca.crt")
    write_kubeconfig(kube / "config", api.url, token=api.token, ca_file=Path("/kube/ca.crt"))
    (kube / "config").chmod(0o644)
    (kube / "ca.crt").chmod(0o644)
    return kube


def s3_store(endpoint: str) -> str:
    """A bucket on moto holding the minimal-aws fixture store; its s3:// URL."""
    bucket = new_bucket(endpoint)
    client = admin_client(endpoint)
    root = FIXTURE_STORES / "minimal-aws"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        client.put_object(Bucket=bucket, Key=str(path.relative_to(root)), Body=path.read_bytes())
    client.close()
    return f"s3://{bucket}"


def env_flags(env: dict[str, str]) -> list[str]:
    return [flag for key, value in sorted(env.items()) for flag in ("-e", f"{key}={value}")]


def test_a_failed_build_names_its_step_and_log_in_one_line(tmp_path: Path) -> None:
    """No image needed: the build stops at its prerequisites (here a Python that is not
    there; on a machine without podman or root, those) with one line, never a trace."""
    done = subprocess.run(
        ["bash", str(TOP / podman.BUILD_SCRIPT)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "KOPS_GITSYNC_CACHE": str(tmp_path / "cache"),
             "PYTHON": str(tmp_path / "no-python")},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    log = tmp_path / "cache" / "image" / "build.log"
    assert done.stderr.splitlines() == [
        f"build.sh: image build failed at step 'prerequisites': "
        f"{log.read_text().strip().splitlines()[-1]} (log: {log})"]


def test_help_as_65532_on_a_read_only_root_without_network(image: str) -> None:
    helped = podman.run("--user", "65532", "--read-only", "--network=none", image, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage: kops-gitsync" in helped.stdout
    assert "daemon" in helped.stdout

    who = podman.run("--read-only", "--network=none", "--entrypoint", "/usr/bin/id", image)
    assert who.returncode == 0, who.stderr
    # 65532 by default, with a passwd entry (OpenSSH refuses a uid without one).
    assert who.stdout.split() == [
        "uid=65532(kops-gitsync)", "gid=65532(kops-gitsync)", "groups=65532(kops-gitsync)"]


def test_daemon_once_on_a_mounted_file_store(
    image: str, tmp_path: Path, host_git_trusts_container_files: None
) -> None:
    """One turn of the daemon inside the container: the mounted review repo gets the pull
    commit of the mounted file:// store, on a read-only root with only /tmp writable."""
    store = copy_fixture_store(tmp_path / "store")
    repo = make_repo(tmp_path / "repo", [{"name": STORE, "state": "file:///store"}])
    podman.give_to_container_user(repo, store)
    done = podman.run(
        "--read-only", "--network=none", "--tmpfs", "/tmp",
        "-v", f"{repo}:/repo", "-v", f"{store}:/store",
        image, "daemon", "--repo", "/repo", "--once", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len(pull_commits(repo, STORE)) == 1


def test_host_network_reaches_the_api_server_and_a_moto_store(
    image: str, tmp_path: Path, real_kube_api: RealKubeApiServer, moto_server: str,
    namespace: str, host_git_trusts_container_files: None,
) -> None:
    """What the membership test below relies on, checked on its own: with the host network, the
    read-only kubeconfig mount is readable by uid 65532 and the image's kubernetes client
    reaches the real API server through it; the daemon pulls a moto S3 store."""
    kube = kube_dir(tmp_path, real_kube_api)
    lister = (
        "import kubernetes as k; k.config.load_kube_config(); "
        f"print(len(k.client.CoordinationV1Api().list_namespaced_lease('{namespace}').items))"
    )
    listed = podman.run(
        "--read-only", "--network=host", "-v", f"{kube}:/kube:ro",
        "-e", "KUBECONFIG=/kube/config", "--entrypoint", "/opt/venv/bin/python",
        image, "-c", lister)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "0"

    repo = make_repo(tmp_path / "repo", [{"name": STORE, "state": s3_store(moto_server)}])
    podman.give_to_container_user(repo)
    env = s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on")
    done = podman.run(
        "--read-only", "--network=host", "--tmpfs", "/tmp", "-v", f"{repo}:/repo",
        *env_flags(env), image, "daemon", "--repo", "/repo", "--once", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    assert len(pull_commits(repo, STORE)) == 1


def test_daemon_container_keeps_its_membership_lease(
    image: str, tmp_path: Path, real_kube_api: RealKubeApiServer, moto_server: str,
    namespace: str,
) -> None:
    """The daemon container on the host network, against the real API server and a moto
    store: its membership Lease appears in the namespace, and ``podman stop`` (SIGTERM through
    tini) makes it delete the Lease."""
    kube = kube_dir(tmp_path, real_kube_api)
    repo = make_repo(tmp_path / "repo", [{"name": STORE, "state": s3_store(moto_server)}])
    podman.give_to_container_user(repo)
    env = {**s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on"), "KUBECONFIG": "/kube/config"}
    lease_path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/replica-a"
    name = f"kops-gitsync-test-{uuid.uuid4().hex[:8]}"
    with podman.container(
        name, "--read-only", "--network=host", "--tmpfs", "/tmp",
        "-v", f"{repo}:/repo", "-v", f"{kube}:/kube:ro", *env_flags(env),
        image, "daemon", "--repo", "/repo", "--log-format", "json",
        "--membership", "kubernetes", "--namespace", namespace,
        "--member-name", "replica-a", "--member-lease-duration", "3",
    ):
        deadline = time.monotonic() + 60
        while True:
            status, lease = real_kube_api.request("GET", lease_path)
            if status == 200:
                break
            running = podman.state(name)
            assert running == "running", f"the daemon container is {running}: {podman.logs(name)}"
            assert time.monotonic() < deadline, f"no Lease within 60 s: {podman.logs(name)}"
            time.sleep(0.5)
        assert lease["metadata"]["labels"]["app.kubernetes.io/name"] == "kops-gitsync"
        listed = real_kube_api.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
                   f"?labelSelector={LABEL}")[1]
        assert [item["metadata"]["name"] for item in listed["items"]] == ["replica-a"]

        subprocess.run(podman.podman("stop", "-t", "30", name), capture_output=True,
                       timeout=120, check=True)
        assert real_kube_api.request("GET", lease_path)[0] == 404, podman.logs(name)
