"""Store factories for the two built-in schemes, file:// and memfs://."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.file import FileStore
from kops_gitsync.vfs.memfs import MemoryStore

STORE_FACTORIES = ["file_store_factory", "memfs_store_factory"]

_counter = itertools.count()


@pytest.fixture
def file_store_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Store]:
    def make() -> Store:
        root = tmp_path_factory.mktemp("filestore")
        return FileStore(root, f"file://{root}")

    def missing_root() -> Store:
        root = tmp_path_factory.mktemp("filestore-parent") / "never-created"
        return FileStore(root, f"file://{root}")

    make.missing_root = missing_root  # type: ignore[attr-defined]
    make.creates_root_on_write = True  # type: ignore[attr-defined]
    return make


@pytest.fixture
def memfs_store_factory() -> Iterator[Callable[[], Store]]:
    urls: list[str] = []

    def make() -> Store:
        url = f"memfs://conformance-{next(_counter)}"
        urls.append(url)
        return MemoryStore(url)

    yield make
    for url in urls:
        MemoryStore.reset(url)
