"""The capability cache: remembered per store URL and endpoint, for a day, refreshable, and
never an error (a damaged or unwritable file only means asking the server again)."""

from __future__ import annotations

from pathlib import Path

from kops_gitsync.vfs.capcache import (
    CACHE_DIR_VAR,
    FILE_NAME,
    MAX_AGE,
    REFRESH_VAR,
    CapabilityCache,
    cache_dir,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_per_url_and_endpoint_for_a_day(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / FILE_NAME
    one = CapabilityCache(path, "s3://b @ http://a", clock=clock)
    assert one.get("conditional") == (False, None)
    one.put("conditional", [True, True, False])
    one.put("sse", None)
    again = CapabilityCache(path, "s3://b @ http://a", clock=clock)
    assert again.get("conditional") == (True, [True, True, False])
    assert again.get("sse") == (True, None)
    other_endpoint = CapabilityCache(path, "s3://b @ http://elsewhere", clock=clock)
    assert other_endpoint.get("conditional") == (False, None)
    clock.now += MAX_AGE + 1
    assert again.get("conditional") == (False, None)


def test_refresh_asks_again_and_keeps_the_new_answer(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    CapabilityCache(path, "k").put("sse", None)
    fresh = CapabilityCache.for_store({CACHE_DIR_VAR: str(tmp_path), REFRESH_VAR: "1"}, "k", None)
    assert fresh.key == "k @ default" and fresh.get("sse") == (False, None)
    CapabilityCache(path, "k").put("sse", "AES256")
    assert CapabilityCache(path, "k").get("sse") == (True, "AES256")


def test_a_damaged_or_unwritable_cache_is_only_a_cache_miss(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    for junk in ("{", "[]", '{"format": 1, "stores": {"k": {"sse": {"value": {}, "at": 1}}}}',
                 '{"format": 1, "stores": {"k": {"sse": {"value": null, "at": true}}}}',
                 "\xff"):
        path.write_text(junk, errors="surrogateescape")
        assert CapabilityCache(path, "k").get("sse") == (False, None)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unwritable = CapabilityCache(blocked / FILE_NAME, "k")
    unwritable.put("sse", None)  # no error
    assert unwritable.get("sse") == (False, None)


def test_where_the_cache_lives() -> None:
    assert cache_dir({CACHE_DIR_VAR: "/x"}) == Path("/x")
    assert cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/kops-gitsync")
    assert cache_dir({"HOME": "/h"}) == Path("/h/.cache/kops-gitsync")
    assert cache_dir({}) is None
