"""Events that make a store due before its interval: store files and git refs (watchdog).

Two kinds of watch, both only *poke* the scheduler (never run anything themselves, so an
event storm costs one extra pull, not one per event):

* a ``file://`` store's directory, recursively: kops wrote something, pull now. The lock
  object and the backends' temporary files are ignored, or the daemon's own lease renewals
  would wake it forever;
* the repository's branch refs: loose ones under ``refs/heads/`` and the ``packed-refs``
  file (``git pack-refs``/``git gc`` move branches there). Git updates a ref by renaming a
  ``.lock`` file into place, so both "moved to" and "modified" events count.

Object stores (S3, GCS, ...) offer no event we can receive without infrastructure (SNS,
Pub/Sub), so they are polled on their interval; a remote's approvals arrive by a periodic
fetch (``remote.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from kops_gitsync.daemon import logs
from kops_gitsync.sync.policy import LOCK_KEY

BRANCH_MOVED = "branch moved"
STORE_CHANGED = "store changed"
_IGNORED_NAMES = (LOCK_KEY,)
_IGNORED_PREFIXES = (".kops-gitsync-tmp-",)


def _store_event_matters(path: str, root: Path) -> bool:
    name = Path(path).name
    if name in _IGNORED_NAMES or name.startswith(_IGNORED_PREFIXES):
        return False
    try:
        Path(path).relative_to(root)
    except ValueError:
        return False
    return True


def _ref_event_matters(path: str, git_dir: Path) -> bool:
    p = Path(path)
    if p.name.endswith(".lock"):
        return False
    if p == git_dir / "packed-refs":
        return True
    try:
        p.relative_to(git_dir / "refs" / "heads")
    except ValueError:
        return False
    return True


class Watchers:
    """Owns the watchdog observer; ``poke(store_name, reason)`` is called from its thread."""

    def __init__(self, poke: Callable[[str, str], None]) -> None:
        self._poke = poke
        self._observer: Any = Observer()
        self._observer.daemon = True
        self.watched: list[str] = []

    def watch_store_dir(self, store_name: str, root: Path) -> None:
        """Pull ``store_name`` when anything under ``root`` changes."""
        root = root.resolve()
        if not root.is_dir():
            return  # the pull reports the missing directory; nothing to watch yet
        handler = _Handler(lambda path: _store_event_matters(path, root),
                           lambda: self._poke(store_name, STORE_CHANGED))
        self._observer.schedule(handler, str(root), recursive=True)
        self.watched.append(f"{store_name}: {root}")

    def watch_refs(self, git_dir: Path, store_names: list[str]) -> None:
        """Consider pushing ``store_names`` when a branch moves in the repository."""
        git_dir = git_dir.resolve()

        def poke_all() -> None:
            for name in store_names:
                self._poke(name, BRANCH_MOVED)

        matters = lambda path: _ref_event_matters(path, git_dir)  # noqa: E731
        heads = git_dir / "refs" / "heads"
        heads.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(_Handler(matters, poke_all), str(heads), recursive=True)
        self._observer.schedule(_Handler(matters, poke_all), str(git_dir), recursive=False)
        self.watched.append(f"refs: {git_dir}")

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)


class _Handler(FileSystemEventHandler):
    """Calls ``act`` for every event whose source or destination path ``matters``."""

    def __init__(self, matters: Callable[[str], bool], act: Callable[[], None]) -> None:
        super().__init__()
        self._matters = matters
        self._act = act

    def on_any_event(self, event: Any) -> None:
        # Directory events only echo the file events inside them (a lock renewal would
        # "modify" the store root); opening or reading a file changes nothing.
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(p and self._matters(os.fsdecode(p)) for p in paths):
            logs.event(logging.DEBUG, "", action="event", result=event.event_type,
                       path=os.fsdecode(paths[-1] or paths[0]))
            self._act()
