"""swift:// behaviour beyond the shared contract, on the real Swift from tests/servers/swift.py:
container creation on write (as kops does), store roots below a container, tempauth tokens,
the client-side version check, Keystone password auth (a Keystone double in front of the
real Swift), and what Swift's own client sees after our writes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.errors import FatalStoreError, ObjectExists, PreconditionFailed
from kops_gitsync.vfs.swift import SwiftStore
from tests.doubles.keystone_double import KeystoneDouble
from tests.servers.swift import SwiftCluster, new_container, swift_env


@pytest.fixture
def swift_client(swift_cluster: SwiftCluster) -> Iterator[Any]:
    import swiftclient

    connection = swiftclient.Connection(
        preauthurl=swift_cluster.storage_url, preauthtoken="unused", retries=0
    )
    yield connection
    connection.close()


@pytest.fixture
def opened() -> Iterator[list[SwiftStore]]:
    stores: list[SwiftStore] = []
    yield stores
    for store in stores:
        store.close()


def test_missing_container_fails_listing_but_is_created_by_a_write(
    swift_cluster: SwiftCluster, swift_client: Any, opened: list[SwiftStore]
) -> None:
    store = SwiftStore.from_url("swift://kgs-created-on-write", swift_env(swift_cluster))
    opened.append(store)
    with pytest.raises(FatalStoreError, match="does not exist"):
        list(store.list())
    store.write("c.example.com/config", b"kind: Cluster\n")
    assert (store.request_counts["PUT"], store.request_counts["OTHER"]) == (2, 1)
    _headers, objects = swift_client.get_container("kgs-created-on-write")
    assert [o["name"] for o in objects] == ["c.example.com/config"]


def test_store_root_below_the_container(
    swift_cluster: SwiftCluster, swift_client: Any, opened: list[SwiftStore]
) -> None:
    container = new_container(swift_cluster)
    swift_client.put_object(container, "elsewhere/x", b"not ours")
    store = SwiftStore.from_url(f"swift://{container}/kops/state", swift_env(swift_cluster))
    opened.append(store)
    version = store.write("c.example.com/secrets/system:dns", b"token")
    name = "kops/state/c.example.com/secrets/system:dns"
    headers, body = swift_client.get_object(container, name)
    assert body == b"token"
    assert headers["etag"] == version == hashlib.md5(b"token").hexdigest()
    assert [o.key for o in store.list()] == ["c.example.com/secrets/system:dns"]


def test_valid_tempauth_token_is_accepted(
    swift_cluster: SwiftCluster, opened: list[SwiftStore]
) -> None:
    env = {
        "KOPS_GITSYNC_SWIFT_STORAGE_URL": swift_cluster.tempauth_storage_url,
        "KOPS_GITSYNC_SWIFT_AUTH_TOKEN": swift_cluster.tempauth_token(),
    }
    store = SwiftStore.from_url(f"swift://{new_container(swift_cluster)}", env)
    opened.append(store)
    version = store.write("c/config", b"x")
    assert [(o.key, o.version) for o in store.list()] == [("c/config", version)]


def test_replace_checks_the_etag_just_before_writing(
    swift_cluster: SwiftCluster, swift_client: Any, opened: list[SwiftStore]
) -> None:
    container = new_container(swift_cluster)
    store = SwiftStore.from_url(f"swift://{container}", swift_env(swift_cluster))
    opened.append(store)
    seen = store.write("c/config", b"one")
    swift_client.put_object(container, "c/config", b"kops wrote this meanwhile")
    heads_before = store.request_counts["HEAD"]
    with pytest.raises(PreconditionFailed):
        store.write("c/config", b"two", if_match=seen)
    assert store.request_counts["HEAD"] == heads_before + 1
    assert swift_client.get_object(container, "c/config")[1] == b"kops wrote this meanwhile"


def test_request_counts_by_kind(swift_cluster: SwiftCluster, opened: list[SwiftStore]) -> None:
    store = SwiftStore.from_url(f"swift://{new_container(swift_cluster)}", swift_env(swift_cluster))
    opened.append(store)
    store.write("a", b"1")
    store.read("a")
    list(store.list())
    store.delete("a")
    assert store.request_counts == {"LIST": 1, "GET": 1, "PUT": 1, "DELETE": 1}
    assert store.request_counts["HEAD"] == 0


@pytest.fixture
def keystone(swift_cluster: SwiftCluster) -> Iterator[KeystoneDouble]:
    """Keystone v3 double whose catalog sends RegionOne and RegionTwo to two Swift accounts."""
    endpoints = {
        "RegionOne": swift_cluster.storage_url,
        "RegionTwo": f"{swift_cluster.open_url}/v1/AUTH_regiontwo",
    }
    with KeystoneDouble("kops", "s3cret", "clusters", endpoints) as double:
        yield double


def keystone_env(keystone: KeystoneDouble, **extra: str) -> dict[str, str]:
    return {"OS_AUTH_URL": keystone.auth_url, "OS_USERNAME": "kops", "OS_PASSWORD": "s3cret",
            "OS_PROJECT_NAME": "clusters", "OS_DOMAIN_NAME": "Default", **extra}


def test_os_password_variables_reach_swift_through_the_catalog(
    swift_cluster: SwiftCluster, keystone: KeystoneDouble, opened: list[SwiftStore]
) -> None:
    import swiftclient

    container = f"kgs-keystone-{uuid.uuid4().hex[:6]}"
    env = keystone_env(keystone, OS_REGION_NAME="'RegionTwo'")  # quotes stripped, as in kops
    store = SwiftStore.from_url(f"swift://{container}", env)
    opened.append(store)
    store.write("c.example.com/config", b"kind: Cluster\n")
    assert keystone.tokens_issued == 1
    region_two = swiftclient.Connection(
        preauthurl=f"{swift_cluster.open_url}/v1/AUTH_regiontwo", preauthtoken="x", retries=0
    )
    assert region_two.get_object(container, "c.example.com/config")[1] == b"kind: Cluster\n"
    region_two.close()


def test_credential_file_reaches_swift(
    swift_cluster: SwiftCluster, keystone: KeystoneDouble, opened: list[SwiftStore],
    tmp_path: Path,
) -> None:
    path = tmp_path / "openstack.ini"
    path.write_text(
        f"[Global]\nregion = RegionOne\n\n[Default]\nidentity = {keystone.auth_url}\n"
        "user = kops\npassword = s3cret\ndomain_name = Default\ntenant_name = clusters\n"
    )
    container = new_container(swift_cluster)
    store = SwiftStore.from_url(f"swift://{container}", {"OPENSTACK_CREDENTIAL_FILE": str(path)})
    opened.append(store)
    version = store.write("c/config", b"from the ini file")
    assert [(o.key, o.version) for o in store.list()] == [("c/config", version)]


def test_wrong_password_is_a_credentials_error(
    keystone: KeystoneDouble, opened: list[SwiftStore]
) -> None:
    store = SwiftStore.from_url(
        "swift://anything", keystone_env(keystone, OS_PASSWORD="not-it")
    )
    opened.append(store)
    with pytest.raises(FatalStoreError, match="credentials"):
        list(store.list())


def test_create_reads_back_and_reports_a_lost_race(
    swift_cluster: SwiftCluster, swift_client: Any, opened: list[SwiftStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Swift gives 201 to every racing If-None-Match PUT; the newest one stays. A racer
    landing between our PUT and our read-back must turn our create into ObjectExists."""
    container = new_container(swift_cluster)
    store = SwiftStore.from_url(f"swift://{container}", swift_env(swift_cluster))
    opened.append(store)
    real_head = store._head_version

    def racer_lands_first(key: str) -> str | None:
        swift_client.put_object(container, key, b"the other creator")
        return real_head(key)

    monkeypatch.setattr(store, "_head_version", racer_lands_first)
    with pytest.raises(ObjectExists, match="meanwhile"):
        store.write("lock", b"ours", if_none_match=True)
    assert swift_client.get_object(container, "lock")[1] == b"the other creator"
