"""The store contract, written once and run against every backend (fsspec/rclone style).

A backend earns a place in STORE_FACTORIES by passing all of this; capability-dependent
checks consult ``store.capabilities`` exactly as push does, never the scheme.
"""

from __future__ import annotations

import pytest

from kops_gitsync.errors import InvalidKey, ObjectExists, PreconditionFailed
from kops_gitsync.vfs.base import Store


def listing(store: Store, prefix: str = "") -> dict[str, tuple[int, str]]:
    return {o.key: (o.size, o.version) for o in store.list(prefix)}


def test_empty_store_lists_nothing(store: Store) -> None:
    assert listing(store) == {}


def test_write_read_list_agree_on_version(store: Store) -> None:
    version = store.write("c.example.com/config", b"kind: Cluster\n")
    blob = store.read("c.example.com/config")
    assert blob.data == b"kind: Cluster\n"
    assert blob.version == version
    assert listing(store) == {"c.example.com/config": (14, version)}


def test_overwrite_changes_version(store: Store) -> None:
    first = store.write("a/b", b"one")
    second = store.write("a/b", b"two")
    assert first != second
    assert store.read("a/b").data == b"two"


def test_prefix_listing(store: Store) -> None:
    store.write("a.example.com/config", b"1")
    store.write("a.example.com/instancegroup/nodes", b"2")
    store.write("b.example.com/config", b"3")
    assert set(listing(store, "a.example.com/")) == {
        "a.example.com/config",
        "a.example.com/instancegroup/nodes",
    }


def test_empty_object(store: Store) -> None:
    version = store.write("c/clusteraddons/default", b"")
    assert store.read("c/clusteraddons/default").data == b""
    assert listing(store)["c/clusteraddons/default"] == (0, version)


@pytest.mark.parametrize(
    "key", ["c/secrets/system:controller_manager", "c/with space/x", "c/ünïcødé/ключ"]
)
def test_unusual_key_characters_round_trip(store: Store, key: str) -> None:
    store.write(key, b"x")
    assert store.read(key).data == b"x"
    assert key in listing(store)


def test_missing_object_is_file_not_found(store: Store) -> None:
    with pytest.raises(FileNotFoundError):
        store.read("nope/config")


def test_delete(store: Store) -> None:
    store.write("k", b"v")
    store.delete("k")
    assert listing(store) == {}
    store.delete("k")  # a missing key is not an error without a precondition


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../b", "a//b", "a/./b", ".git/config"])
def test_unsafe_keys_are_refused(store: Store, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.write(key, b"x")


def test_create_if_absent(store: Store) -> None:
    store.write("lock", b"mine", if_none_match=True)
    with pytest.raises(ObjectExists):
        store.write("lock", b"theirs", if_none_match=True)
    assert store.read("lock").data == b"mine"


def test_replace_if_version(store: Store) -> None:
    v1 = store.write("k", b"one")
    v2 = store.write("k", b"two", if_match=v1)
    with pytest.raises(PreconditionFailed):
        store.write("k", b"three", if_match=v1)
    assert store.read("k").data == b"two"
    assert store.read("k").version == v2


def test_replace_if_version_of_missing_object(store: Store) -> None:
    with pytest.raises(FileNotFoundError):
        store.write("gone", b"x", if_match="some-version")


def test_delete_if_version(store: Store) -> None:
    v1 = store.write("k", b"one")
    store.write("k", b"two")
    with pytest.raises(PreconditionFailed):
        store.delete("k", if_match=v1)
    assert store.read("k").data == b"two"
    store.delete("k", if_match=store.read("k").version)
    with pytest.raises(FileNotFoundError):
        store.delete("k", if_match=v1)
