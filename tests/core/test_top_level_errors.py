"""What the user or the machine does to a command gets one line, never a traceback:
Ctrl-C, a full disk, a damaged file that is not UTF-8."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.core.conftest import Run, git
from tests.doubles.failing_proxy_double import FailingProxyDouble

CLUSTER = "c.example.com"


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    (root / CLUSTER / "instancegroup").mkdir(parents=True)
    (root / CLUSTER / "config").write_text(
        f"apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: {CLUSTER}\n")
    (root / CLUSTER / "instancegroup" / "nodes").write_text(
        "apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\nmetadata:\n  name: nodes\n"
        "spec:\n  maxSize: 2\n")
    return root


@pytest.fixture
def pulled_repo(repo: Path, small_store: Path, cli: Callable[..., Run],
                monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOPS_STATE_STORE", f"file://{small_store}")
    result = cli("pull", cwd=repo)
    assert result.code == 0, result.err
    return repo


def test_damaged_journal_names_the_file(pulled_repo: Path, cli: Callable[..., Run]) -> None:
    journal = pulled_repo / ".git" / "kops-gitsync" / "journal-default.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(b'{"store": "default", \xff\xfe\x00 torn}\n')
    result = cli("pull", cwd=pulled_repo)
    assert result.code == 1
    assert "Traceback" not in result.err and "UnicodeDecodeError" not in result.err
    assert result.err.count("\n") == 1, result.err
    assert str(journal) in result.err and "UTF-8" in result.err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for ENOSPC")
def test_full_disk_names_the_file(pulled_repo: Path, cli: Callable[..., Run]) -> None:
    """The journal's temporary file is a link to /dev/full: every write fails with ENOSPC,
    and a failing write() carries no file name of its own."""
    ig = pulled_repo / "state" / CLUSTER / "instancegroup" / "nodes"
    ig.write_text(ig.read_text().replace("maxSize: 2", "maxSize: 3"))
    git(pulled_repo, "commit", "-qam", "nodes: three")
    tmp = pulled_repo / ".git" / "kops-gitsync" / "journal-default.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.symlink_to("/dev/full")
    result = cli("push", "--yes", "--skip-validation", cwd=pulled_repo)  # a toy cluster
    assert result.code == 1
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1, result.err
    assert "No space left on device" in result.err and str(tmp) in result.err


@pytest.fixture
def hung_s3(moto_server: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A bucket of 40 objects whose listing answers but whose object reads hang."""
    from tests.servers.s3 import admin_client, new_bucket, s3_env

    bucket = new_bucket(moto_server)
    client = admin_client(moto_server)
    for n in range(40):
        client.put_object(Bucket=bucket, Key=f"{CLUSTER}/addons/a{n:02d}.yaml", Body=b"x: 1\n")
    proxy = FailingProxyDouble(
        moto_server, -1, hang=120, only=lambda method, path: "list-type" not in path
    ).start()
    env = {**os.environ, **s3_env(proxy.url, KOPS_GITSYNC_S3_CONDITIONAL="on")}
    yield f"s3://{bucket}", env
    proxy.stop()


@pytest.mark.parametrize("phase", [
    "listing",
    "reading",
])
def test_ctrl_c_is_one_line_and_status_130(
    repo: Path, hung_s3: tuple[str, dict[str, str]], moto_server: str, phase: str
) -> None:
    """Interrupted while the listing hangs, or while 16 reader threads hang on reads."""
    url, env = hung_s3
    if phase == "listing":  # everything hangs, the listing too
        proxy = FailingProxyDouble(moto_server, -1, hang=120).start()
        env["S3_ENDPOINT"] = proxy.url
    proc = subprocess.Popen(
        [sys.executable, "-m", "kops_gitsync", "pull", "--state", url], cwd=repo, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        if phase == "listing":
            proxy.stop()
    text = err.decode()
    assert time.monotonic() - started < 5, "Ctrl-C did not end the command promptly"
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.strip().splitlines()[-1] == "kops-gitsync pull: interrupted", text
