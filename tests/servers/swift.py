"""A real OpenStack Swift on 127.0.0.1: account, container and object servers plus two proxies.

All four server kinds come from the PyPI package ``swift``; they share one ring with a single
device on /dev/shm (Swift keeps metadata in user xattrs, and /tmp here has no room for them:
TEST_SERVERS.md section 3). Two proxies sit in front of the same data:

* ``open`` has no auth middleware, so any request is allowed; the store tests use it through
  the documented storage-URL hook ``KOPS_GITSYNC_SWIFT_STORAGE_URL``;
* ``tempauth`` checks tokens, so a wrong token really gets a 401 from Swift.

tempauth keeps its tokens in ``swift.cache`` (normally memcached, not installed here); the
proxy loads :func:`dict_cache_filter_factory` from this module instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.failing_proxy_double import FailingProxyDouble

STORE_FACTORIES = ["swift_store_factory"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SHM = Path("/dev/shm")
TEMPAUTH_USER = "test:tester"
TEMPAUTH_KEY = "testing"
ACCOUNT = "AUTH_test"


@dataclass(frozen=True)
class SwiftCluster:
    open_url: str  # proxy root without auth, e.g. http://127.0.0.1:P
    tempauth_url: str  # proxy root that checks tokens
    base: Path

    @property
    def storage_url(self) -> str:
        """The account URL the no-auth proxy serves (auto-created on first use)."""
        return f"{self.open_url}/v1/{ACCOUNT}"

    @property
    def tempauth_storage_url(self) -> str:
        return f"{self.tempauth_url}/v1/{ACCOUNT}"

    def tempauth_token(self) -> str:
        request = urllib.request.Request(
            f"{self.tempauth_url}/auth/v1.0",
            headers={"X-Auth-User": TEMPAUTH_USER, "X-Auth-Key": TEMPAUTH_KEY},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.headers["X-Auth-Token"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip())


def _configure(base: Path) -> dict[str, int]:
    """swift.conf, three one-device rings and five paste configs, all under ``base``."""
    from swift.common.ring import RingBuilder

    (base / "srv" / "sda1").mkdir(parents=True)
    ports = {kind: _free_port() for kind in ("account", "container", "object", "open", "tempauth")}
    _write(
        base / "swift.conf",
        """
        [swift-hash]
        swift_hash_path_suffix = kops-gitsync-tests
        swift_hash_path_prefix = kops-gitsync-tests
        [storage-policy:0]
        name = default
        default = yes
        """,
    )
    for kind in ("account", "container", "object"):
        builder = RingBuilder(6, 1, 1)
        builder.add_dev(
            {"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": ports[kind],
             "device": "sda1", "weight": 1.0}
        )
        builder.rebalance()
        builder.get_ring().save(str(base / f"{kind}.ring.gz"))
    # swift_dir makes every server read *our* swift.conf and rings, never /etc/swift.
    common = f"""
        [DEFAULT]
        swift_dir = {base}
        devices = {base}/srv
        mount_check = false
        disable_fallocate = true
        bind_ip = 127.0.0.1
        workers = 0
        log_level = WARNING
        log_address = {base}/no-syslog.sock
        """
    for kind in ("account", "container", "object"):
        _write(
            base / f"{kind}-server.conf",
            common + f"""
        bind_port = {ports[kind]}
        [pipeline:main]
        pipeline = {kind}-server
        [app:{kind}-server]
        use = egg:swift#{kind}
        """,
        )
    pipelines = {
        "open": "catch_errors proxy-logging proxy-server",
        "tempauth": "catch_errors proxy-logging cache tempauth proxy-logging proxy-server",
    }
    for name, pipeline in pipelines.items():
        _write(
            base / f"proxy-{name}.conf",
            common + f"""
        bind_port = {ports[name]}
        [pipeline:main]
        pipeline = {pipeline}
        [app:proxy-server]
        use = egg:swift#proxy
        account_autocreate = true
        [filter:catch_errors]
        use = egg:swift#catch_errors
        [filter:proxy-logging]
        use = egg:swift#proxy_logging
        [filter:cache]
        paste.filter_factory = tests.servers.swift:dict_cache_filter_factory
        [filter:tempauth]
        use = egg:swift#tempauth
        user_test_tester = {TEMPAUTH_KEY} .admin
        """,
        )
    return ports


def _wait_ready(url: str, processes: list[subprocess.Popen[bytes]], base: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/info", timeout=2) as response:
                response.read()
            return
        except OSError:
            for process in processes:
                if process.poll() is not None:
                    logs = "\n".join(p.read_text()[-1500:] for p in base.glob("*.log"))
                    raise RuntimeError(f"a Swift server died at start:\n{logs}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"Swift proxy {url} did not answer within 60 s") from None
            time.sleep(0.05)


def _wait_storage_ready(cluster: SwiftCluster) -> None:
    """The proxy answers /info before the account, container and object servers accept
    requests (a loaded machine showed a 503 on the first container PUT): wait for a real
    write to go through before any test runs."""
    import swiftclient

    deadline = time.monotonic() + 60
    while True:
        connection = swiftclient.Connection(
            preauthurl=cluster.storage_url, preauthtoken="unused", retries=0
        )
        try:
            connection.put_container("kgs-readiness")
            connection.put_object("kgs-readiness", "probe", b"ok")
            connection.delete_object("kgs-readiness", "probe")
            return
        except swiftclient.ClientException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            connection.close()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def swift_cluster() -> Iterator[SwiftCluster]:
    if not SHM.is_dir():
        pytest.skip("Swift needs a tmpfs with user xattrs at /dev/shm")
    base = Path(tempfile.mkdtemp(prefix="kops-gitsync-swift-", dir=SHM))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = _configure(base)
        bindir = Path(sys.executable).parent
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        servers = [
            ("account-server", "account-server.conf"),
            ("container-server", "container-server.conf"),
            ("object-server", "object-server.conf"),
            ("proxy-server", "proxy-open.conf"),
            ("proxy-server", "proxy-tempauth.conf"),
        ]
        for program, conf in servers:
            with open(base / f"{conf}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [str(bindir / f"swift-{program}"), str(base / conf)],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    )
                )
        open_url = f"http://127.0.0.1:{ports['open']}"
        tempauth_url = f"http://127.0.0.1:{ports['tempauth']}"
        _wait_ready(open_url, processes, base)
        _wait_ready(tempauth_url, processes, base)
        cluster = SwiftCluster(open_url=open_url, tempauth_url=tempauth_url, base=base)
        _wait_storage_ready(cluster)
        yield cluster
    finally:
        _stop(processes)
        shutil.rmtree(base, ignore_errors=True)


def swift_env(cluster: SwiftCluster) -> dict[str, str]:
    """The settings a user would export to reach this cluster without Keystone."""
    return {"KOPS_GITSYNC_SWIFT_STORAGE_URL": cluster.storage_url}


def make_container(cluster: SwiftCluster, name: str) -> None:
    """Create a container with the scheme's own client (python-swiftclient), not ours."""
    import swiftclient

    connection = swiftclient.Connection(
        preauthurl=cluster.storage_url, preauthtoken="unused", retries=3
    )
    connection.put_container(name)
    connection.close()


_counter = itertools.count()


def native_head(store: Any, key: str) -> tuple[str, dict[str, str]]:
    """Content-Type and X-Object-Meta-* as python-swiftclient itself reads them back."""
    import swiftclient

    storage_url = store.settings.connect_kwargs["object_store_endpoint_override"]
    connection = swiftclient.Connection(preauthurl=storage_url, preauthtoken="unused", retries=0)
    try:
        headers = connection.head_object(store.container, store.prefix + key)
    finally:
        connection.close()
    prefix = "x-object-meta-"
    return str(headers["content-type"]), {
        name[len(prefix):]: value for name, value in headers.items() if name.startswith(prefix)}


def new_container(cluster: SwiftCluster) -> str:
    name = f"kgs-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"
    make_container(cluster, name)
    return name


@pytest.fixture
def swift_store_factory(swift_cluster: SwiftCluster) -> Iterator[Callable[[], Any]]:
    """Each call: a new, empty container on the real Swift, opened through ``from_url``.

    Offers ``bad_credentials()`` (a wrong token on the tempauth proxy) and ``failing(n)``
    (a 503-injecting proxy in front), and ``missing_root()`` with
    ``creates_root_on_write``: like kops, a swift:// write creates a missing container.
    """
    from kops_gitsync.vfs.swift import SwiftStore

    stores: list[SwiftStore] = []
    proxies: list[FailingProxyDouble] = []

    def open_store(url: str, env: dict[str, str]) -> SwiftStore:
        store = SwiftStore.from_url(url, env)
        stores.append(store)
        return store

    def make() -> SwiftStore:
        return open_store(f"swift://{new_container(swift_cluster)}", swift_env(swift_cluster))

    def bad_credentials() -> SwiftStore:
        env = {
            "KOPS_GITSYNC_SWIFT_STORAGE_URL": swift_cluster.tempauth_storage_url,
            "KOPS_GITSYNC_SWIFT_AUTH_TOKEN": "AUTH_tk-not-a-valid-token",
        }
        return open_store(f"swift://{new_container(swift_cluster)}", env)

    def failing(failures: int, **options: Any) -> SwiftStore:
        proxy = FailingProxyDouble(swift_cluster.open_url, failures, **options).start()
        proxies.append(proxy)
        env = {"KOPS_GITSYNC_SWIFT_STORAGE_URL": f"{proxy.url}/v1/{ACCOUNT}",
               "KOPS_GITSYNC_STORE_TIMEOUT": "1"}
        store = open_store(f"swift://{new_container(swift_cluster)}", env)
        store.retry_initial_wait = 0.01
        store.proxy = proxy  # type: ignore[attr-defined]
        return store

    def missing_root() -> SwiftStore:
        name = f"never-created-{uuid.uuid4().hex[:12]}"
        return open_store(f"swift://{name}", swift_env(swift_cluster))

    make.bad_credentials = bad_credentials  # type: ignore[attr-defined]
    make.failing = failing  # type: ignore[attr-defined]
    make.native_head = native_head  # type: ignore[attr-defined]
    make.missing_root = missing_root  # type: ignore[attr-defined]
    make.creates_root_on_write = True  # type: ignore[attr-defined]
    yield make
    for store in stores:
        store.close()
    for proxy in proxies:
        proxy.stop()


class _DictCache:
    """The part of swift's MemcacheRing interface tempauth uses, kept in a dict."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[Any, float]] = {}

    def get(self, key: str, **_: Any) -> Any:
        value, expires = self._values.get(key, (None, 0.0))
        return None if expires and expires < time.time() else value

    def set(self, key: str, value: Any, time: float = 0, **_: Any) -> None:
        import time as clock

        self._values[key] = (value, clock.time() + time if time else 0.0)

    def incr(self, key: str, delta: int = 1, time: float = 0, **_: Any) -> int:
        value = int(self.get(key) or 0) + delta
        self.set(key, value, time=time)
        return value

    def decr(self, key: str, delta: int = 1, time: float = 0, **_: Any) -> int:
        return self.incr(key, -delta, time=time)

    def delete(self, key: str, **_: Any) -> None:
        self._values.pop(key, None)


def dict_cache_filter_factory(global_conf: dict[str, str], **local_conf: str) -> Any:
    """Paste filter that puts a process-local ``swift.cache`` in every request's environ."""
    cache = _DictCache()

    def make_filter(app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            environ["swift.cache"] = cache
            return app(environ, start_response)

        return middleware

    return make_filter
