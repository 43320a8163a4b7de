"""What each store object *is*, and therefore what kops-gitsync may do with it.

The classes come from how kops uses the store (see docs/model.md):

* ``INTENT``: what people edit (``config``, ``instancegroup/*``, ``clusteraddons/*``, SSH
  public keys). Mirrored and pushed.
* ``DERIVED``: what ``kops update cluster --yes`` writes (``cluster-completed.spec``,
  ``igconfig/``, ``manifests/``, ``addons/``, ``kops-version.txt``, issued certificates, OIDC
  discovery documents). Mirrored for review, not pushed by default: nodeup refuses a
  nodeupconfig whose hash moved, and channels re-applies an addon within a minute.
* ``SECRET`` and ``BACKUP``: private keys, tokens, etcd dumps. Never written to git under the
  default policy. Push writes one only under ``secrets: encrypt``, from a reviewed
  age-encrypted copy (backup/crypt.py, docs/backup.md).
* ``TOOL``: kops-gitsync's own lock object at the store root.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kops_gitsync.config.repo_config import StoreConfig

if TYPE_CHECKING:
    from pathspec import PathSpec

LOCK_KEY = ".kops-gitsync.lock"


class Kind(enum.Enum):
    INTENT = "intent"
    DERIVED = "derived"
    SECRET = "secret"
    BACKUP = "backup"
    TOOL = "tool"


# Patterns on the path *inside* a cluster folder (the key minus its first segment).
_SECRET = re.compile(r"^(pki/private/|secrets/)|\.key$")
_BACKUP = re.compile(r"^backups/")
_DERIVED = re.compile(
    r"^(cluster-completed\.spec|cluster\.spec|kops-version\.txt)$"
    r"|^(igconfig|manifests|addons|pki/issued)/"
)
# Root-level OIDC discovery documents, written by `kops update` into discoveryStore.
_DERIVED_ROOT = re.compile(r"^(\.well-known/openid-configuration|openid/v1/jwks)$")


def classify(key: str) -> Kind:
    if key.startswith(".kops-gitsync"):  # the lock, and the S3 backend's precondition probe
        return Kind.TOOL
    if key.endswith(".key"):
        return Kind.SECRET
    if _DERIVED_ROOT.search(key):
        return Kind.DERIVED
    _, _, rest = key.partition("/")
    if _SECRET.search(rest):
        return Kind.SECRET
    if _BACKUP.search(rest):
        return Kind.BACKUP
    if _DERIVED.search(rest):
        return Kind.DERIVED
    return Kind.INTENT


# etcd-manager's control files (the etcd cluster spec it bootstraps from): small, and a
# restored store needs them. The snapshots beside them are not kept in git, even encrypted.
_ETCD_CONTROL = re.compile(r"^[^/]+/backups/etcd/[^/]+/control/")


def encryptable(key: str) -> bool:
    """Kept as an encrypted copy under ``secrets: encrypt`` (backup/crypt.py)?"""
    kind = classify(key)
    return kind is Kind.SECRET or (kind is Kind.BACKUP and bool(_ETCD_CONTROL.match(key)))


def cluster_of(key: str) -> str:
    """The cluster folder a key belongs to ("" for store-root objects)."""
    head, sep, _ = key.partition("/")
    return head if sep else ""


def _spec(patterns: tuple[str, ...]) -> PathSpec[Any]:
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", patterns)


class Policy:
    """A store's rules: which keys are mirrored into git and which push may write."""

    def __init__(self, store: StoreConfig) -> None:
        self.store = store
        # pathspec only when there are patterns: the default has none, and importing it
        # costs ~15 ms of every CLI run (an empty spec matches nothing anyway).
        self._include = _spec(store.include) if store.include else None
        self._exclude = _spec(store.exclude) if store.exclude else None
        self._mirrored: dict[str, bool] = {}

    def selected(self, key: str) -> bool:
        """Inside the configured include/exclude patterns (patterns match store keys)."""
        if self._include is not None and not self._include.match_file(key):
            return False
        return self._exclude is None or not self._exclude.match_file(key)

    def mirrored(self, key: str) -> bool:
        """May this object's bytes be written into git? (Memoised: asked per key per pull.)"""
        known = self._mirrored.get(key)
        if known is None:
            known = self._mirrored[key] = self._decide_mirrored(key)
        return known

    def _decide_mirrored(self, key: str) -> bool:
        kind = classify(key)
        if kind is Kind.TOOL or not self.selected(key):
            return False
        if kind in (Kind.SECRET, Kind.BACKUP):
            return self.store.secrets == "include"
        return True

    def pushable(self, key: str) -> bool:
        """May push write or delete this object in the store?"""
        kind = classify(key)
        if self.store.secrets == "encrypt" and encryptable(key):
            return self.selected(key)  # from a reviewed encrypted copy (backup/crypt.py)
        if kind in (Kind.SECRET, Kind.BACKUP, Kind.TOOL) or not self.selected(key):
            return False
        return kind is Kind.INTENT or self.store.push_derived

    def withheld_counts(self, keys: Iterable[str]) -> dict[str, int]:
        """How many listed objects stay out of git, by reason, for commit messages."""
        counts: dict[str, int] = {}
        for key in keys:
            if self.mirrored(key):
                continue
            kind = classify(key)
            reason = kind.value if kind is not Kind.INTENT else "excluded by pattern"
            if kind is Kind.TOOL:
                continue
            if kind is Kind.DERIVED and not self.selected(key):
                reason = "excluded by pattern"
            counts[reason] = counts.get(reason, 0) + 1
        return counts
