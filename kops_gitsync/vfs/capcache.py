"""What a store's server can do, remembered between processes.

Two facts cost requests to learn and hardly ever change: whether an S3-compatible server
enforces ``If-None-Match``/``If-Match`` (a 5-request probe) and whether the bucket encrypts
by default (``GetBucketEncryption``, which decides kops' SSE header). Every ``push`` and
every daemon cycle used to ask again; now the answer is kept in a small JSON file and
trusted for :data:`MAX_AGE`.

Where: ``$KOPS_GITSYNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/kops-gitsync``, else
``~/.cache/kops-gitsync``, file ``store-capabilities.json``; one entry per store URL *and*
endpoint (the same ``s3://bucket`` behind another ``S3_ENDPOINT`` is another server). Not in
the sync state on the observed ref: that is shared by every clone through git, and what one
machine's endpoint enforces says nothing certain about another machine's.

Refresh: ``KOPS_GITSYNC_REFRESH_CAPABILITIES=1`` (``--refresh-capabilities`` on the sync
verbs sets it) asks the server again and stores the new answer; so does an entry older than
a day. The cache is a hint about the server, never about objects: a damaged or unreadable
file, or one that cannot be written, only means asking the server (no error, no warning).
What goes wrong if a cached answer is stale is written next to each use in vfs/s3.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

CACHE_DIR_VAR = "KOPS_GITSYNC_CACHE_DIR"
REFRESH_VAR = "KOPS_GITSYNC_REFRESH_CAPABILITIES"
FILE_NAME = "store-capabilities.json"
MAX_AGE = 24 * 3600.0
FORMAT = 1

Fact = bool | str | None | list[bool]


def cache_dir(env: Mapping[str, str]) -> Path | None:
    explicit = env.get(CACHE_DIR_VAR, "").strip()
    if explicit:
        return Path(explicit)
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "kops-gitsync"
    home = env.get("HOME", "").strip()
    return Path(home) / ".cache" / "kops-gitsync" if home else None


def _is_fact(value: object) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, bool) for v in value)
    return value is None or isinstance(value, bool | str)


class CapabilityCache:
    """The cached facts of one store (``key``: its URL and endpoint)."""

    def __init__(
        self, path: Path | None, key: str, *, refresh: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.key, self.refresh, self._clock = path, key, refresh, clock

    @classmethod
    def for_store(cls, env: Mapping[str, str], url: str, endpoint: str | None) -> CapabilityCache:
        folder = cache_dir(env)
        refresh = env.get(REFRESH_VAR, "").strip().lower() in ("1", "true", "yes", "on")
        return cls(folder / FILE_NAME if folder else None, f"{url} @ {endpoint or 'default'}",
                   refresh=refresh)

    def _load(self) -> dict[str, dict[str, dict[str, object]]]:
        if self.path is None:
            return {}
        try:
            doc = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        stores = doc.get("stores") if isinstance(doc, dict) and doc.get("format") == FORMAT \
            else None
        return stores if isinstance(stores, dict) else {}

    def get(self, name: str) -> tuple[bool, Fact]:
        """(True, value) when a fresh answer for ``name`` is cached; (False, None) to ask."""
        if self.refresh:
            return False, None
        entry = self._load().get(self.key)
        fact = entry.get(name) if isinstance(entry, dict) else None
        if not isinstance(fact, dict) or not _is_fact(fact.get("value")):
            return False, None
        at = fact.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float):
            return False, None
        if not 0 <= self._clock() - at <= MAX_AGE:
            return False, None
        value = fact["value"]
        assert _is_fact(value)
        return True, value  # type: ignore[return-value]

    def put(self, name: str, value: Fact) -> None:
        """Remember ``value``; a file that cannot be written is left alone."""
        if self.path is None:
            return
        stores = self._load()
        entry = stores.get(self.key)
        entry = dict(entry) if isinstance(entry, dict) else {}
        entry[name] = {"value": value, "at": self._clock()}
        stores[self.key] = entry
        text = json.dumps({"format": FORMAT, "stores": stores}, indent=1, sort_keys=True)
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".capabilities-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
                os.replace(tmp, self.path)  # concurrent writers: the last one wins, whole
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
