"""The status page as a browser sees it: Debian's chromium, headless, loads ``/`` from a
running daemon and the test reads the table out of the DOM chromium built.

A browser, not just a string search: escaping is proven by what the HTML parser of a real
browser makes of the page (no element from store text), and the table by the cells it shows.
Skipped without chromium; ``tests/run.sh`` installs it and sets
``KOPS_GITSYNC_REQUIRE_CHROMIUM=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.daemon.conftest import DaemonProc, copy_fixture_store, make_repo, wait_for
from tests.daemon.test_http_endpoints import HOSTILE, TICK, listening, request, store_config

pytestmark = pytest.mark.slow

Start = Callable[..., DaemonProc]
REQUIRE_VAR = "KOPS_GITSYNC_REQUIRE_CHROMIUM"
# Without the background-networking flags chromium dials Google at start, and this closed
# network refuses it; --no-sandbox because the tests may run as root (CI containers).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get(REQUIRE_VAR) == "1":
        pytest.fail(f"{REQUIRE_VAR}=1 but no chromium on PATH (tests/debian-packages.txt)")
    pytest.skip("chromium is not installed (Debian package chromium)")


class Table(HTMLParser):
    """Rows of ``<table id="stores">`` as dicts keyed by the header cells; every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._in_table = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table" and ("id", "stores") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def stores(self) -> dict[str, dict[str, str]]:
        header, *body = self.rows
        return {row[0]: dict(zip(header, row, strict=True)) for row in body}


def dump_dom(browser: str, url: str, profile: Path) -> str:
    done = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_status_page_in_headless_chromium(tmp_path: Path, start_daemon: Start) -> None:
    browser = chromium()
    store = copy_fixture_store(tmp_path / "store")
    missing = tmp_path / HOSTILE
    repo = make_repo(tmp_path / "repo", [store_config(store, auto_push=True),
                                         store_config(missing, name="bad")])
    daemon = start_daemon(repo, "--metrics-port", "0", "--tick", TICK)
    address = listening(daemon)
    daemon.wait_event("the first pull", store="dev", action="pull", result="changed")
    daemon.wait_event("the failing pull", store="bad", action="pull", result="error")
    wait_for(lambda: "does not exist" in request(address, "/").text, "the error on the page")

    dom = dump_dom(browser, f"http://{address}/", tmp_path / "profile")
    table = Table()
    table.feed(dom)
    stores = table.stores()

    assert list(stores) == ["bad", "dev"]
    assert list(stores["dev"]) == ["store", "url", "owner", "lease / lock holder", "last pull",
                                   "pending push", "conflict", "last error"]
    dev, bad = stores["dev"], stores["bad"]
    assert dev["url"] == f"file://{store}"
    assert dev["owner"] == "-"  # no membership: nobody assigns stores
    assert dev["lease / lock holder"].startswith("held: ")
    assert dev["last pull"].endswith("Z")
    assert (dev["pending push"], dev["conflict"], dev["last error"]) == ("-", "-", "-")
    # The hostile path arrives as text in the cells, never as markup.
    assert bad["url"] == f"file://{missing}"
    assert f"{missing} does not exist" in bad["last error"]
    assert bad["last pull"] == "-"
    assert "img" not in table.tags and "script" not in table.tags
