from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kops_gitsync.vfs.base import Store
from tests.conftest import STORE_FACTORIES


@pytest.fixture(params=STORE_FACTORIES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of every backend in turn."""
    factory: Callable[[], Store] = request.getfixturevalue(request.param)
    made = factory()
    yield made
    made.close()
