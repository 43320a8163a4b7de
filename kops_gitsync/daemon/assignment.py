"""Which replica *tries* which store: rendezvous hashing with bounded load, a pure function.

Several daemon replicas share the stores. Kubernetes only decides who tries a store; the lock
kept in the store stays the only thing that authorises a write, so a reshuffle (two replicas
briefly disagreeing about the member list) can delay a store, never give it two writers.

Why rendezvous (highest-random-weight) hashing: every replica computes the same answer from the
same (stores, members) with no coordination, and a change of membership moves few stores. Plain
hash-mod-N moves almost everything on a join and spreads unevenly (Argo CD's shards); HRW alone
can still give one member far more than its share with few stores, so the load is bounded:

* ``cap = ceil(LOAD_FACTOR x stores / members)``; a member already holding ``cap`` stores is
  skipped, and the store goes to the next member in its own HRW ranking;
* stores are placed in the order of their own hash (not their URL, which would favour one
  naming scheme), so the result depends only on the sets given, never on their order;
* a store pinned to a live member stays with it even above the cap (it still counts toward
  that member's load); pinned to a member that is not live, it is placed like any other.

What holds (tests/unit/test_assignment.py checks each with hypothesis):

* every store has exactly one owner, a live member; no member holds more than
  ``max(cap, its pinned stores)``; the same sets give the same answer on every replica;
* without the cap (``load_factor=None``), a join moves stores only to the newcomer and a leave
  moves only the dead member's stores;
* with the cap, a store that sits on its first-ranked member both before and after a join or
  a leave never moves between two other members: every store that moves, beyond the newcomer's
  gains or the dead member's losses, is one the cap had displaced from its first choice in the
  old or the new assignment. The cap trades these few extra moves for even load.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

LOAD_FACTOR = 1.25


def weight(store: str, member: str) -> int:
    """The HRW weight of ``member`` for ``store``: a stable 64-bit hash of the pair.

    BLAKE2b rather than ``hash()``: Python salts ``hash()`` per process, and every replica
    must compute the same weights.
    """
    digest = hashlib.blake2b(
        store.encode("utf-8") + b"\0" + member.encode("utf-8"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


def ranking(store: str, members: Iterable[str]) -> list[str]:
    """``members`` from the most to the least preferred for ``store`` (ties by name)."""
    return sorted(set(members), key=lambda m: (-weight(store, m), m))


def cap_for(stores: int, members: int, load_factor: float | None = LOAD_FACTOR) -> int | None:
    """The most stores one member takes, or None for no bound (or no members)."""
    if load_factor is None or members == 0:
        return None
    return max(1, math.ceil(load_factor * stores / members))


def _order(store: str) -> tuple[int, str]:
    digest = hashlib.blake2b(store.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big"), store


def assign(
    stores: Iterable[str],
    members: Iterable[str],
    pinned: Mapping[str, str] | None = None,
    *,
    load_factor: float | None = LOAD_FACTOR,
) -> dict[str, str]:
    """``{store: member}`` for every store, or ``{}`` when there is no live member.

    ``pinned`` maps a store to the member the configuration pins it to; it is honoured while
    that member is in ``members``. ``load_factor=None`` turns the bound off (plain HRW).
    """
    live = sorted(set(members))
    wanted = sorted(set(stores), key=_order)
    if not live:
        return {}
    cap = cap_for(len(wanted), len(live), load_factor)
    pins = dict(pinned or {})
    owner: dict[str, str] = {}
    load = dict.fromkeys(live, 0)
    for store in wanted:
        member = pins.get(store)
        if member in load:
            owner[store] = member
            load[member] += 1
    for store in wanted:
        if store in owner:
            continue
        for member in ranking(store, live):
            if cap is None or load[member] < cap:
                break
        else:  # cannot happen: cap x members >= stores (see the module docstring)
            member = min(live, key=lambda m: (load[m], m))
        owner[store] = member
        load[member] += 1
    return owner


def owned_by(assignment: Mapping[str, str], member: str) -> list[str]:
    """The stores ``member`` should try, sorted."""
    return sorted(store for store, owner in assignment.items() if owner == member)
