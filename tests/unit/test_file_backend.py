"""file:// stores hold regular files only: a FIFO, a socket or a link never blocks or leaks."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from kops_gitsync.errors import FatalStoreError
from kops_gitsync.vfs.file import FileStore

T = TypeVar("T")


def within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()``, failing the test (instead of hanging it) if it takes longer."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still blocked after {seconds} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    root = tmp_path / "store"
    (root / "c").mkdir(parents=True)
    (root / "c" / "config").write_bytes(b"kind: Cluster\n")
    return FileStore(root)


def test_fifo_is_skipped_with_a_warning(store: FileStore,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(store.root / "c" / "pipe")
    keys = within(5, lambda: [o.key for o in store.list()])
    assert keys == ["c/config"]
    err = capsys.readouterr().err
    assert "c/pipe" in err and "FIFO" in err and err.count("\n") == 1


def test_reading_a_fifo_is_refused_without_blocking(store: FileStore) -> None:
    os.mkfifo(store.root / "c" / "pipe")
    with pytest.raises(FatalStoreError, match="FIFO"):
        within(5, lambda: store.read("c/pipe"))
    with pytest.raises(FatalStoreError, match="FIFO"):
        within(5, lambda: store.write("c/pipe", b"x", if_match="whatever"))


def test_socket_is_skipped(store: FileStore, capsys: pytest.CaptureFixture[str]) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(store.root / "c" / "sock"))
        assert [o.key for o in store.list()] == ["c/config"]
        assert "socket" in capsys.readouterr().err
    finally:
        sock.close()


def test_links_stay_refused(store: FileStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (store.root / "c" / "link").symlink_to(outside / "secret")
    with pytest.raises(FatalStoreError, match="symbolic link"):
        list(store.list())
    with pytest.raises(FatalStoreError, match="symbolic link"):
        store.read("c/link")
    (store.root / "c" / "link").unlink()
    (store.root / "d").symlink_to(outside)  # a linked folder: reads through it are refused
    with pytest.raises(FatalStoreError, match="symbolic link"):
        store.read("d/secret")
    with pytest.raises(FatalStoreError, match="symbolic link"):
        store.write("d/secret", b"overwritten")
    assert (outside / "secret").read_bytes() == b"not yours"


def test_listing_reports_size_and_hashes_in_chunks(store: FileStore) -> None:
    big = os.urandom(3 * 1024 * 1024 + 5)
    (store.root / "c" / "big").write_bytes(big)
    sizes = {o.key: o.size for o in store.list()}
    assert sizes["c/big"] == len(big)
    assert store.stat("c/big").version == store.read("c/big").version
