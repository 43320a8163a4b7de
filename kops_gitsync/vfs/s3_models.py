"""botocore's data files (the S3 model, its endpoint rules, endpoints.json), parsed once per
machine instead of once per process.

Creating the first S3 client of a process costs about 110 ms on the development machine,
and about 50 ms of that is botocore's loader: it lists every one of ~400 service folders to
check that ``s3`` exists (twice), then parses the S3 model (1.2 MB of JSON), its endpoint
rule set and endpoints.json with an ``OrderedDict`` hook. A ``kops-gitsync pull`` of a
small store takes about 0.5 s in all, so this was a tenth of it, paid again by every CLI
run and every hook.

:class:`CachingLoader` is botocore's own :class:`~botocore.loaders.Loader` (registered as
the session's ``data_loader`` component, botocore's way of customising where data comes
from) that keeps what it loaded in ``marshal`` files under the kops-gitsync cache folder
(the one of vfs/capcache.py), in a sub-folder named after the botocore version: reading
them back takes about 6 ms. ``marshal`` rather than ``pickle`` because loading it cannot
run code, whoever wrote the file; ``dict`` keeps JSON's key order, which is all botocore
needs of its ``OrderedDict`` (model.py only reads the members in order).

Behaviour stays botocore's: the cache is only used while botocore's own data folder is the
only one that exists (no ``~/.aws/models``, no ``AWS_DATA_PATH`` folder that could hold an
override), an entry is the result of botocore's own loading (extras merged), and a cache
that cannot be read or written means loading as before, silently (it is a cache).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

_MISSING = object()


class CachingLoader(botocore.loaders.Loader):  # type: ignore[misc]
    """A botocore loader that remembers parsed data files in ``folder`` (None: in memory)."""

    def __init__(self, search_paths: list[str], folder: Path | None) -> None:
        super().__init__(extra_search_paths=list(search_paths),
                         include_default_search_paths=False)
        overridable = [p for p in search_paths if p != self.BUILTIN_DATA_PATH]
        usable = folder is not None and not any(os.path.isdir(p) for p in overridable)
        self.folder = folder / f"botocore-{botocore.__version__}" if usable and folder else None
        self._memory: dict[str, Any] = {}

    def load_service_model(self, service_name: str, type_name: str,
                           api_version: str | None = None) -> Any:
        name = f"{service_name}.{type_name}.{api_version or 'latest'}"
        return self._cached(name, lambda: super(CachingLoader, self).load_service_model(
            service_name, type_name, api_version))

    def load_data_with_path(self, name: str) -> Any:
        """Top-level files (endpoints, partitions, _retry, ...) cached with their path, which
        botocore checks to know the data is its own; a service's raw files are only read
        through :meth:`load_service_model`, which caches the merged result."""
        if "/" in name:
            return super().load_data_with_path(name)
        data, path = self._cached(f"{name}.with-path", lambda: list(
            super(CachingLoader, self).load_data_with_path(name)))
        return data, path

    def _cached(self, name: str, load: Any) -> Any:
        found = self._memory.get(name, _MISSING)
        if found is _MISSING:
            found = self._read(name)
        if found is _MISSING:
            found = load()
            self._write(name, found)
        self._memory[name] = found
        return found

    def _read(self, name: str) -> Any:
        if self.folder is None:
            return _MISSING
        try:
            data = marshal.loads((self.folder / f"{name}.marshal").read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return _MISSING
        return data if isinstance(data, dict | list) else _MISSING

    def _write(self, name: str, data: Any) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(marshal.dumps(_plain(data)))
                os.replace(tmp, self.folder / f"{name}.marshal")  # readers see all or nothing
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _plain(data: Any) -> Any:
    """``OrderedDict`` (what botocore's JSON hook makes) as ``dict``, the only kind marshal
    writes; order is kept."""
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    return data
