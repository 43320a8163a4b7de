"""The store contract, written once and run against every backend (fsspec/rclone style).

A backend earns a place in STORE_FACTORIES by passing all of this; capability-dependent
checks consult ``store.capabilities`` exactly as push does, never the scheme.

A factory is a zero-arg callable that makes a fresh, empty store. It may also offer, as
attributes, what only its server fixture knows how to arrange:

* ``missing_root()``: a store whose bucket or container does not exist;
* ``bad_credentials()``: a store with a wrong secret, on a server that checks signatures;
* ``failing(n, **proxy_options)``: a store whose first ``n`` requests (``-1``: all) get 503
  from the server, through ``FailingProxyDouble`` (options: ``hang``, ``retry_after``,
  ``only``, ``drop_length``), with short retry waits and a 1 s request timeout;
* ``native_head(store, key)``: (Content-Type, user metadata) as the scheme's own client
  reads them, to check what a write really stored;
* ``server_gaps``: ``{check name: reason}`` for guarantees the backend claims (and the real
  service gives) but the test server does not enforce; those checks are expected to fail
  (strict xfail), so the day the server learns them the suite says so. A gap named after a
  helper (``"bad_credentials"``) is the reason that helper cannot exist for this server.

A check whose helper is missing is skipped, naming the helper, never the scheme.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kops_gitsync.errors import (
    FatalStoreError,
    InvalidKey,
    ObjectExists,
    ObjectTooLarge,
    PreconditionFailed,
    RetryableStoreError,
)
from kops_gitsync.vfs.base import CONTENT_TYPE, Store, decode_metadata
from tests.conftest import STORE_FACTORIES

PAGE = 1000  # the listing page size of S3, GCS and Swift alike
RACERS = 8


@pytest.fixture(params=STORE_FACTORIES)
def store_factory(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Iterator[Store]:
    """A fresh, empty store of every backend in turn (the factory stays reachable)."""
    made = store_factory()
    yield made
    made.close()


def helper(factory: Any, name: str) -> Any:
    found = getattr(factory, name, None)
    if found is None:
        reason = getattr(factory, "server_gaps", {}).get(name)
        pytest.skip(reason or f"this store factory offers no {name}() for the check")
    return found


def expect_gap(
    request: pytest.FixtureRequest, factory: Any, check: str, *, strict: bool = True
) -> None:
    """Mark the running test as a known server gap if the factory declares one.

    Races against a server that ignores the precondition can still come out right by
    timing, so those pass ``strict=False``; a deterministic check stays strict.
    """
    reason = getattr(factory, "server_gaps", {}).get(check)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=strict))


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


UNSAFE_KEYS = [
    "../escape", "/abs", "a/../b", "a//b", "a/./b", ".git/config", "c/.gitattributes",
    "c/.GITIGNORE", "c/.gitmodules", "c/.mailmap", "c/line\nbreak", "c/esc\x1b[0m",
    "c/" + "x" * 256,
]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused(store: Store, key: str) -> None:
    """Refused on every path in: write, read, delete (a key git would obey as its own
    configuration, or one that breaks an output line, never reaches the server)."""
    with pytest.raises(InvalidKey):
        store.write(key, b"x")
    with pytest.raises(InvalidKey):
        store.read(key)
    with pytest.raises(InvalidKey):
        store.delete(key)


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


def test_delete_if_version(
    store: Store, store_factory: Any, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, store_factory, "conditional_delete")
    v1 = store.write("k", b"one")
    store.write("k", b"two")
    with pytest.raises(PreconditionFailed):
        store.delete("k", if_match=v1)
    assert store.read("k").data == b"two"
    store.delete("k", if_match=store.read("k").version)
    with pytest.raises(FileNotFoundError):
        store.delete("k", if_match=v1)


# -- scale ---------------------------------------------------------------------------------


def _write_many(store: Store, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.write(key, key.encode()), keys))


def test_listing_pages_past_1000_keys(store: Store) -> None:
    keys = [f"c.example.com/pki/issued/k{n:05d}" for n in range(PAGE + 5)]
    _write_many(store, [*keys, "other.example.com/config"])
    counts: dict[str, int] | None = getattr(store, "request_counts", None)
    lists_before = counts.get("LIST", 0) if counts is not None else 0
    listed = [info.key for info in store.list("c.example.com/")]
    assert sorted(listed) == keys  # complete and without duplicates across pages
    if counts is not None:  # a backend that counts requests must not over-list
        assert counts.get("LIST", 0) - lists_before == math.ceil(len(keys) / PAGE)


def test_five_mebibyte_object(store: Store) -> None:
    data = os.urandom(5 * 1024 * 1024)
    version = store.write("c/backups/etcd/main/snapshot", data)
    blob = store.read("c/backups/etcd/main/snapshot")
    assert blob.data == data
    assert blob.version == version
    assert {o.key: o.size for o in store.list()} == {"c/backups/etcd/main/snapshot": len(data)}


# -- size limit, metadata, content type -----------------------------------------------------

BIG = "c/addons/big/v1.yaml"


def test_read_over_the_limit_is_refused(store: Store) -> None:
    data = os.urandom(300_000)
    version = store.write(BIG, data)
    with pytest.raises(ObjectTooLarge) as caught:
        store.read(BIG, max_bytes=100_000)
    assert (caught.value.key, caught.value.size, caught.value.limit) == (BIG, len(data), 100_000)
    exact = store.read(BIG, max_bytes=len(data))  # at the limit is still fine
    assert (exact.data, exact.version) == (data, version)
    assert store.read(BIG).data == data  # no limit by default
    with pytest.raises(FileNotFoundError):
        store.read("c/absent", max_bytes=10)


def test_read_limit_holds_when_the_server_declares_no_length(store_factory: Any) -> None:
    """A server that sends no Content-Length (or lies) is cut off at the limit, not read
    to the end."""
    proxied = helper(store_factory, "failing")(0, drop_length=True)
    try:
        proxied.write(BIG, os.urandom(300_000))
        with pytest.raises(ObjectTooLarge):
            proxied.read(BIG, max_bytes=100_000)
        assert len(proxied.read(BIG, max_bytes=300_000).data) == 300_000
    finally:
        proxied.close()


METADATA = {"kops-gitsync-commit": "0123abcd" * 5, "kops-gitsync-branch": "feature/größe 100%"}


def test_stat_and_metadata(store: Store) -> None:
    version = store.write("c/config", b"kind: Cluster\n", metadata=METADATA)
    found = store.stat("c/config")
    assert (found.key, found.size, found.version) == ("c/config", 14, version)
    expected = METADATA if store.capabilities.write_metadata else {}
    assert dict(found.metadata) == expected
    store.write("c/config", b"kind: Cluster\n")  # a write without metadata replaces it
    assert dict(store.stat("c/config").metadata) == {}
    with pytest.raises(FileNotFoundError):
        store.stat("c/absent")
    with pytest.raises(ValueError):
        store.write("c/config", b"x", metadata={"Not A Header": "x"})


def test_writes_look_like_kops(store: Store, store_factory: Any) -> None:
    """What the scheme's own client sees: kops' Content-Type, and the metadata."""
    native_head = helper(store_factory, "native_head")
    store.write("c/config", b"kind: Cluster\n", metadata=METADATA)
    content_type, metadata = native_head(store, "c/config")
    assert content_type == CONTENT_TYPE
    # Sent %-escaped outside printable ASCII (some clients, python-swiftclient, unescape)
    assert decode_metadata(metadata) == METADATA


# -- errors --------------------------------------------------------------------------------


def test_missing_bucket_is_fatal(store_factory: Any) -> None:
    """Listing a missing root is fatal everywhere. Writing to one is fatal too, except where
    kops itself creates the root on write (file:// folders, Swift containers): those
    factories say ``creates_root_on_write`` and the write must then really create it."""
    missing = helper(store_factory, "missing_root")()
    try:
        with pytest.raises(FatalStoreError):
            list(missing.list())
        if getattr(store_factory, "creates_root_on_write", False):
            missing.write("c/config", b"x")
            assert [o.key for o in missing.list()] == ["c/config"]
        else:
            with pytest.raises(FatalStoreError):
                missing.write("c/config", b"x")
    finally:
        missing.close()


def test_wrong_credentials_are_fatal(store_factory: Any) -> None:
    wrong = helper(store_factory, "bad_credentials")()
    try:
        with pytest.raises(FatalStoreError) as caught:
            list(wrong.list())
        assert "credential" in str(caught.value).lower()
        with pytest.raises(FatalStoreError):
            wrong.write("c/config", b"x")
    finally:
        wrong.close()


def test_server_errors_are_retried(store_factory: Any) -> None:
    flaky = helper(store_factory, "failing")(2)
    try:
        version = flaky.write("c/config", b"after two 503s")
        blob = flaky.read("c/config")
        assert (blob.data, blob.version) == (b"after two 503s", version)
        assert flaky.proxy.requests_seen >= 3
    finally:
        flaky.close()


def test_persistent_server_errors_end_in_a_clear_error(store_factory: Any) -> None:
    down = helper(store_factory, "failing")(-1)
    try:
        with pytest.raises(RetryableStoreError) as caught:
            down.read("c/config")
        assert "503" in str(caught.value)
        assert down.proxy.requests_seen > 1  # it did try again before giving up
    finally:
        down.close()


def test_a_hung_request_is_retried_and_said_so(
    store_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that takes the request and never answers: after the (1 s) timeout the call
    is retried, with one line on stderr, instead of a minute of silence."""
    # Only a GET may be the one that hangs: on a loaded machine a write attempt the client
    # gave up on (and retried) can still reach the proxy after the write returned, and would
    # take the hang meant for the read.
    flaky = helper(store_factory, "failing")(0, hang=60, only=lambda method, _path: method == "GET")
    try:
        version = flaky.write("c/config", b"after a hang")
        flaky.proxy.failures_left = 1  # the read's first request hangs
        capsys.readouterr()
        started = time.monotonic()
        assert flaky.read("c/config").version == version
        assert time.monotonic() - started < 15
        err = capsys.readouterr().err
        assert "no answer" in err and " in 1 s" in err and "retrying (2/5)" in err, err
        assert err.startswith(flaky.url), err
    finally:
        flaky.close()


def test_retry_after_holds_every_thread_of_the_store(
    store_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 503 with ``Retry-After: 2`` on one thread's read pauses the store's other readers
    too (one pacer per store), then the read succeeds."""
    flaky = helper(store_factory, "failing")(
        1, retry_after="2", only=lambda method, path: method == "GET" and "pause-me" in path)
    try:
        flaky.write("c/pause-me", b"a")
        flaky.write("c/b", b"b")
        seen = flaky.proxy.requests_seen
        reader = threading.Thread(target=flaky.read, args=("c/pause-me",))
        reader.start()
        deadline = time.monotonic() + 10
        while flaky.proxy.requests_seen == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        refused_at = flaky.proxy.request_times[-1]
        time.sleep(0.2)
        assert flaky.read("c/b").data == b"b"
        reader.join(10)
        later = [t for t in flaky.proxy.request_times if t > refused_at]
        assert later and min(later) - refused_at >= 1.8, later
        assert "as asked (2/5)" in capsys.readouterr().err
    finally:
        flaky.close()


# -- races: only what the backend claims the server enforces --------------------------------


def _race(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls at the same moment; each result is a value or the exception raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_racing_creators_one_wins(store: Store) -> None:
    if not store.capabilities.conditional_create:
        pytest.skip("backend does not claim an atomic create-if-absent")
    outcomes = _race([
        (lambda n=n: store.write("lock", f"racer {n}".encode(), if_none_match=True))
        for n in range(RACERS)
    ])
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ObjectExists) for o in outcomes if not isinstance(o, str))
    assert store.read("lock").version == winners[0]


def test_racing_replacers_one_wins(store: Store) -> None:
    if not store.capabilities.conditional_replace:
        pytest.skip("backend does not claim an atomic compare-and-swap")
    base = store.write("c/config", b"base")
    outcomes = _race([
        (lambda n=n: store.write("c/config", f"edit {n}".encode(), if_match=base))
        for n in range(RACERS)
    ])
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, PreconditionFailed) for o in outcomes if not isinstance(o, str))
    assert store.read("c/config").version == winners[0]


def test_racing_delete_and_replace_one_wins(
    store: Store, store_factory: Any, request: pytest.FixtureRequest
) -> None:
    if not store.capabilities.conditional_delete:
        pytest.skip("backend does not claim an atomic delete-if-version")
    expect_gap(request, store_factory, "conditional_delete", strict=False)
    base = store.write("c/config", b"base")
    calls: list[Callable[[], object]] = []
    for n in range(RACERS // 2):
        calls.append(lambda: store.delete("c/config", if_match=base) or "deleted")
        calls.append(lambda n=n: store.write("c/config", f"edit {n}".encode(), if_match=base))
    outcomes = _race(calls)
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1, outcomes
    losers = [o for o in outcomes if not isinstance(o, str)]
    assert all(isinstance(o, PreconditionFailed | FileNotFoundError) for o in losers), losers
