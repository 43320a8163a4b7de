"""moto's S3 server on 127.0.0.1, for ``s3://`` and ``do://`` stores.

moto enforces ``If-None-Match: *`` and ``If-Match`` on PutObject and DeleteObject (412), so
the conditional-write checks of the contract run against a real protocol server. It does not
check signatures in its default mode; a second server started with
``INITIAL_NO_AUTH_ACTION_COUNT`` does (after the IAM user is made), and serves only the
wrong-credentials check.

Factories follow the contract's conventions (see tests/conformance/test_contract.py): each is
a zero-arg callable making a fresh store on a fresh bucket, with optional helpers
``missing_root()``, ``bad_credentials()`` and ``failing(n)`` for the error checks.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.vfs.s3 import S3Store
from tests.doubles.failing_proxy_double import FailingProxyDouble

STORE_FACTORIES = ["s3_store_factory", "do_store_factory"]

BIN = Path(sys.executable).parent
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
_buckets = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until ``url`` answers anything at all (an HTTP error still means it is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_moto(log: Path, extra_env: dict[str, str] | None = None) -> tuple[str, Any]:
    port = free_port()
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, **(extra_env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/moto-api/", proc)
    return url, proc


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's moto S3 endpoint URL (no signature checks)."""
    url, proc = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    yield url
    stop_process(proc)


@dataclass(frozen=True)
class AuthMoto:
    url: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="session")
def moto_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthMoto]:
    """A moto that checks SigV4 signatures against its IAM users (one user, full S3 access)."""
    import boto3

    url, proc = start_moto(tmp_path_factory.mktemp("moto-auth") / "moto.log",
                           {"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="kops")
        key = iam.create_access_key(UserName="kops")["AccessKey"]
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="kops", PolicyName="s3", PolicyDocument=json.dumps(policy))
        yield AuthMoto(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        stop_process(proc)


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    """The variables a kops user sets for a custom S3 endpoint."""
    return {"S3_ENDPOINT": endpoint, "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY, **extra}


def admin_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    """A plain boto3 client, to set up buckets and to read back what a store wrote."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key)


def new_bucket(endpoint: str, **credentials: str) -> str:
    name = f"kgs-{os.getpid()}-{next(_buckets)}"
    admin_client(endpoint, **credentials).create_bucket(Bucket=name)
    return name


def native_head(store: S3Store, key: str) -> tuple[str, dict[str, str]]:
    """Content-Type and user metadata as boto3 itself reads them back."""
    client = admin_client(store.settings.endpoint or "")
    try:
        answer = client.head_object(Bucket=store.settings.bucket, Key=store.settings.prefix + key)
    finally:
        client.close()
    return str(answer["ContentType"]), dict(answer["Metadata"])


def _factory(scheme: str, root: str, endpoint: str, env: dict[str, str],
             request: pytest.FixtureRequest) -> Iterator[Callable[[], S3Store]]:
    """The factory and its contract helpers; closes every store and proxy it made."""
    opened: list[S3Store] = []
    proxies: list[FailingProxyDouble] = []

    def open_store(url: str, env_for: dict[str, str]) -> S3Store:
        store = S3Store.from_url(url, env_for)
        opened.append(store)
        return store

    def make() -> S3Store:
        return open_store(f"{scheme}://{new_bucket(endpoint)}{root}", env)

    def missing_root() -> S3Store:
        return open_store(f"{scheme}://kgs-never-created{root}", env)

    def bad_credentials() -> S3Store:
        auth: AuthMoto = request.getfixturevalue("moto_auth_server")
        bucket = new_bucket(auth.url, access_key=auth.access_key, secret_key=auth.secret_key)
        wrong = {**env, "S3_ENDPOINT": auth.url, "S3_ACCESS_KEY_ID": auth.access_key,
                 "S3_SECRET_ACCESS_KEY": "not-the-secret"}
        return open_store(f"{scheme}://{bucket}{root}", wrong)

    def failing(failures: int, **options: Any) -> S3Store:
        """A store whose first ``failures`` requests (-1: all) fail at a proxy (503, or as
        ``options`` say), with a 1 s request timeout."""
        bucket = new_bucket(endpoint)
        proxy = FailingProxyDouble(endpoint, failures, **options).start()
        proxies.append(proxy)
        store = open_store(f"{scheme}://{bucket}{root}",
                           {**env, "S3_ENDPOINT": proxy.url, "KOPS_GITSYNC_STORE_TIMEOUT": "1"})
        store.retry_initial_wait = 0.01
        store.proxy = proxy  # type: ignore[attr-defined]
        return store

    make.missing_root = missing_root  # type: ignore[attr-defined]
    make.bad_credentials = bad_credentials  # type: ignore[attr-defined]
    make.failing = failing  # type: ignore[attr-defined]
    make.native_head = native_head  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def s3_store_factory(
    moto_server: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[], S3Store]]:
    """``s3://`` against moto through S3_ENDPOINT; preconditions trusted (``on``)."""
    env = s3_env(moto_server, KOPS_GITSYNC_S3_CONDITIONAL="on")
    yield from _factory("s3", "", moto_server, env, request)


@pytest.fixture
def do_store_factory(
    moto_server: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[], S3Store]]:
    """``do://`` with a store root below the bucket and conditional support probed (``auto``)."""
    yield from _factory("do", "/kops/state", moto_server, s3_env(moto_server), request)


@pytest.fixture(scope="session")
def rclone_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rclone serve s3``: a real S3 server that ignores If-None-Match and If-Match, which
    is what an S3 look-alike without conditional writes does. Buckets are directories."""
    root = tmp_path_factory.mktemp("rclone-s3")
    (root / "bkt").mkdir()
    port = free_port()
    log = root.parent / f"{root.name}.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(BIN / "rclone"), "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}",
             "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--config", "/dev/null"],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(url, proc)
    yield url
    stop_process(proc)
