"""The live side of a push's plan: the store's listing, of only the clusters it touches.

Push plans from a fresh listing taken under the lock. Listing the whole store cost a
100-cluster push of 10 edits five LIST pages of 1,000 objects, most of the push's time on a
slow server, for clusters it does not write. A cluster folder the pushed commit does not
change is not written whatever its listing says (its keys are the same in ``base`` and
``ours``, so the planner can only call them "changed in the store, left alone"), so push
lists just the touched cluster folders, several at once, when they are fewer than half of
the store's clusters; otherwise one full listing is as cheap.

What a scoped listing gives up, and why that is acceptable: the plan's count of objects
changed only in the store covers the touched clusters only (a pull shows them all), and
the ``max_delete`` guard counts the store's size from the observed state instead of the
listing (the same number unless the store changed behind the mirror's back, which the
per-cluster "store lost" guard and every write's precondition still catch).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kops_gitsync.sync.apply import workers_from
from kops_gitsync.sync.policy import Kind, classify
from kops_gitsync.vfs.base import Store

V = TypeVar("V")


def scope_of(changed: Iterable[str], stored: Iterable[str]) -> frozenset[str] | None:
    """The cluster folders (``name/``) to list for ``changed`` keys, or None: list all.

    ``stored``: the keys of the observed state (the store as last seen).
    """
    prefixes = set()
    for key in changed:
        cluster, sep, _rest = key.partition("/")
        if not sep:
            return None  # a key at the store root: only a full listing sees its neighbours
        prefixes.add(cluster + "/")
    clusters = {key.partition("/")[0] for key in stored if "/" in key}
    if not prefixes or 2 * len(prefixes) >= len(clusters):
        return None
    return frozenset(prefixes)


def in_scope(key: str, scope: frozenset[str] | None) -> bool:
    return scope is None or key[: key.find("/") + 1] in scope


def list_live(store: Store, scope: frozenset[str] | None) -> dict[str, str]:
    """Key -> version of every object in ``scope`` (None: the whole store), tool objects
    (the lock) left out."""
    if scope is None:
        listed = list(store.list())
    else:
        with ThreadPoolExecutor(max_workers=min(len(scope), workers_from(os.environ))) as pool:
            listed = [o for page in pool.map(lambda p: list(store.list(p)), sorted(scope))
                      for o in page]
    return {o.key: o.version for o in listed if classify(o.key) is not Kind.TOOL}


def scoped(side: Mapping[str, V], scope: frozenset[str] | None) -> dict[str, V]:
    """``side`` (base or ours) cut to the listed scope."""
    return {k: v for k, v in side.items() if in_scope(k, scope)}
