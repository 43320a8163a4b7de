"""oss:// store factory over the OSS HTTP double (no OSS server exists for this machine).

The double runs in a thread on 127.0.0.1 for the whole session, checks oss2's V1 signatures
against ``OSS_CREDENTIALS`` and keeps one bucket per store, so every store starts empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kops_gitsync.vfs.base import Store
from tests.doubles.failing_proxy_double import FailingProxyDouble
from tests.doubles.oss_double import OssDouble

STORE_FACTORIES = ["oss_store_factory"]

ACCESS_KEY_ID = "LTAI-test-key"
ACCESS_KEY_SECRET = "test-secret"
_counter = itertools.count()


@pytest.fixture(scope="session")
def oss_double() -> Iterator[OssDouble]:
    with OssDouble({ACCESS_KEY_ID: ACCESS_KEY_SECRET}) as double:
        yield double


def oss_env(double: OssDouble) -> dict[str, str]:
    """What a user exports, with the documented endpoint override pointing at the double."""
    return {
        "ALIYUN_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ALIYUN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
        "OSS_REGION": "cn-hangzhou",
        "KOPS_GITSYNC_OSS_ENDPOINT": double.endpoint,
    }


def new_bucket(double: OssDouble) -> str:
    name = f"conformance-{next(_counter)}"
    double.create_bucket(name)
    return name


def native_head(store: Any, key: str) -> tuple[str, dict[str, str]]:
    """Content-Type and x-oss-meta-* as a plain oss2 client reads them back."""
    import oss2

    settings = store.settings
    bucket = oss2.Bucket(oss2.Auth(settings.access_key_id, settings.access_key_secret),
                         settings.endpoint, store.bucket_name)
    head = bucket.head_object(store.prefix + key)
    prefix = "x-oss-meta-"
    return str(head.headers["Content-Type"]), {
        name.lower()[len(prefix):]: value for name, value in head.headers.items()
        if name.lower().startswith(prefix)}


@pytest.fixture
def oss_store_factory(oss_double: OssDouble) -> Iterator[Callable[[], Store]]:
    """Each call: a new bucket on the double, the store rooted below it at ``kops/state``.

    Offers ``missing_root()``, ``bad_credentials()`` (a wrong secret: the double checks the
    signature) and ``failing(n)`` (a 503-injecting proxy in front of the double).
    """
    from kops_gitsync.vfs.oss import OSSStore

    stores: list[OSSStore] = []
    proxies: list[FailingProxyDouble] = []

    def open_store(bucket: str, env: dict[str, str]) -> OSSStore:
        store = OSSStore.from_url(f"oss://{bucket}/kops/state", env)
        stores.append(store)
        return store

    def make() -> Store:
        return open_store(new_bucket(oss_double), oss_env(oss_double))

    def missing_root() -> Store:
        return open_store("never-created", oss_env(oss_double))

    def bad_credentials() -> Store:
        env = {**oss_env(oss_double), "ALIYUN_ACCESS_KEY_SECRET": "not-the-secret"}
        return open_store(new_bucket(oss_double), env)

    def failing(failures: int, **options: Any) -> Store:
        proxy = FailingProxyDouble(oss_double.endpoint, failures, **options).start()
        proxies.append(proxy)
        env = {**oss_env(oss_double), "KOPS_GITSYNC_OSS_ENDPOINT": proxy.url,
               "KOPS_GITSYNC_STORE_TIMEOUT": "1"}
        store = open_store(new_bucket(oss_double), env)
        store.retry_initial_wait = 0.01
        store.proxy = proxy  # type: ignore[attr-defined]
        return store

    make.missing_root = missing_root  # type: ignore[attr-defined]
    make.bad_credentials = bad_credentials  # type: ignore[attr-defined]
    make.failing = failing  # type: ignore[attr-defined]
    make.native_head = native_head  # type: ignore[attr-defined]
    yield make
    for store in stores:
        store.close()
    for proxy in proxies:
        proxy.stop()
