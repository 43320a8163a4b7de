"""The committed record of which store versions a mirror was built from.

It sits beside the mirror (``.kops-gitsync/<store>.json``), never inside it, because kops
treats stray files in a store as clusters or refuses to delete the cluster. Committing it
means every commit says exactly which store versions it contains, which is what makes a
push three-way: the base of a push is the sync state of the newest observed commit the
pushed commit contains.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Mapping
from dataclasses import dataclass, field

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.keys import key_problem, printable

FORMAT = 1
STATE_DIR = ".kops-gitsync"


def state_path(store_name: str) -> str:
    return f"{STATE_DIR}/{store_name}.json"


def _key(key: str) -> str:
    """A key pull could have recorded. The file reaches a clone in commits, so a crafted one
    must not steer a deletion to ``state/../../x`` or into ``.git``."""
    problem = key_problem(key)
    if problem is not None:
        raise ValueError(f"object key {printable(key)!r}: {problem}")
    return key


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r:.40} is not a string")
    return value


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"size {value!r:.40} is not a byte count")
    return value


_LAST: list[tuple[bytes, SyncState]] = []  # the last file parse_cached parsed


@dataclass(frozen=True, slots=True)
class Recorded:
    version: str
    size: int
    sha256: str


@dataclass
class SyncState:
    url: str
    objects: dict[str, Recorded] = field(default_factory=dict)
    # Listed but kept out of git by content (looked like a secret): key -> version, so an
    # unchanged one is not read again on the next pull.
    withheld: dict[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Stable JSON, one object per line, so the diff of a pull commit is readable."""
        lines = [
            "{",
            f'  "format": {FORMAT},',
            f'  "url": {json.dumps(self.url)},',
            '  "objects": {',
        ]
        items = sorted(self.objects.items())
        enc = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
        # Formatted directly rather than with json.dumps per entry (the same bytes, checked
        # by tests): at 45,000 objects dumps made up most of an incremental pull's CPU.
        last = len(items) - 1
        for i, (key, rec) in enumerate(items):
            comma = "," if i < last else ""
            lines.append(f'    {enc(key)}: {{"sha256": {enc(rec.sha256)}, "size": {rec.size}, '
                         f'"version": {enc(rec.version)}}}{comma}')
        lines.append("  },")
        lines.append(
            f'  "withheld": {json.dumps(dict(sorted(self.withheld.items())), ensure_ascii=False)}'
        )
        lines.append("}\n")
        return "\n".join(lines).encode("utf-8", "surrogateescape")  # one copy less

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> SyncState:
        try:
            doc = json.loads(data.decode("utf-8", "surrogateescape"))
            if doc.get("format") != FORMAT:
                raise ValueError(f"unknown format {doc.get('format')!r}")
            objects = {
                _key(key): Recorded(_text(v["version"]), _size(v["size"]), _text(v["sha256"]))
                for key, v in doc["objects"].items()
            }
            withheld = {_key(k): _text(v) for k, v in doc.get("withheld", {}).items()}
            return cls(url=str(doc["url"]), objects=objects, withheld=withheld)
        except RecursionError:
            raise FatalError(f"sync state {where} is damaged (nested too deeply)") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FatalError(
                f"sync state {where} is damaged ({exc}); if a merge touched it, take the "
                "version from the observed ref: git checkout refs/kops-gitsync/observed/<store> "
                f"-- {where}"
            ) from None

    @classmethod
    def parse_cached(cls, data: bytes, where: str) -> SyncState:
        """:meth:`from_bytes`, remembering the last file parsed: one pull reads the same
        sync state to bind the URL, to compare versions and to merge, and parsing it is the
        costly part (tens of thousands of entries at 1,000 clusters). A copy is returned, so
        callers may change it."""
        if _LAST and _LAST[0][0] == data:
            parsed = _LAST[0][1]
        else:
            parsed = cls.from_bytes(data, where)
            _LAST[:] = [(data, parsed)]
        return cls(parsed.url, dict(parsed.objects), dict(parsed.withheld))

    def versions(self) -> Mapping[str, str]:
        return {key: rec.version for key, rec in self.objects.items()}
