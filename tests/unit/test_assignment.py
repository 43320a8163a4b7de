"""Properties of the store assignment (kops_gitsync/daemon/assignment.py), with hypothesis.

The module docstring states what holds with and without the load cap; each statement has a
property here.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from kops_gitsync.daemon.assignment import assign, cap_for, owned_by, ranking

STORE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./:", min_size=1, max_size=24)
MEMBER = st.from_regex(r"kops-gitsync-[a-z0-9]{1,8}", fullmatch=True)
STORES = st.sets(STORE, max_size=60)
MEMBERS = st.sets(MEMBER, min_size=1, max_size=7)


@st.composite
def pins(draw: st.DrawFn) -> tuple[set[str], set[str], dict[str, str]]:
    """Stores, members, and some stores pinned to members (live or not)."""
    stores = draw(STORES)
    members = draw(MEMBERS)
    others = draw(st.sets(MEMBER, max_size=2))
    pinned = {}
    for store in sorted(stores):
        if draw(st.booleans()) and draw(st.booleans()):
            pinned[store] = draw(st.sampled_from(sorted(members | others)))
    return stores, members, pinned


def loads(assignment: dict[str, str]) -> Counter[str]:
    return Counter(assignment.values())


@given(pins())
def test_every_store_has_one_live_owner_and_no_member_is_above_the_cap(
    case: tuple[set[str], set[str], dict[str, str]],
) -> None:
    stores, members, pinned = case
    result = assign(stores, members, pinned)
    assert set(result) == stores
    assert set(result.values()) <= members
    cap = cap_for(len(stores), len(members))
    assert cap is not None
    pinned_here = Counter(m for s, m in pinned.items() if m in members)
    for member, load in loads(result).items():
        assert load <= max(cap, pinned_here[member])


@given(pins())
def test_pinned_stores_stay_with_their_live_member(
    case: tuple[set[str], set[str], dict[str, str]],
) -> None:
    stores, members, pinned = case
    result = assign(stores, members, pinned)
    for store, member in pinned.items():
        if member in members:
            assert result[store] == member
        else:  # pinned to a member that is gone: placed like any other store
            assert result[store] in members


@given(pins(), st.randoms(use_true_random=False))
def test_the_same_sets_give_the_same_answer_in_any_order(
    case: tuple[set[str], set[str], dict[str, str]], rnd: random.Random,
) -> None:
    stores, members, pinned = case
    first = assign(sorted(stores), sorted(members), pinned)
    shuffled_stores, shuffled_members = list(stores) * 2, list(members)
    rnd.shuffle(shuffled_stores)
    rnd.shuffle(shuffled_members)
    assert assign(shuffled_stores, shuffled_members, dict(reversed(pinned.items()))) == first


@given(STORES, MEMBERS)
def test_a_store_leaves_its_first_choice_only_when_that_member_is_full(
    stores: set[str], members: set[str],
) -> None:
    result = assign(stores, members)
    cap = cap_for(len(stores), len(members))
    held = loads(result)
    for store, owner in result.items():
        first = ranking(store, members)[0]
        assert owner == first or held[first] == cap


@given(STORES, MEMBERS, MEMBER)
def test_without_the_cap_a_join_moves_stores_only_to_the_newcomer(
    stores: set[str], members: set[str], newcomer: str,
) -> None:
    before = assign(stores, members, load_factor=None)
    after = assign(stores, members | {newcomer}, load_factor=None)
    for store in stores:
        assert after[store] in (before[store], newcomer)


@given(STORES, MEMBERS.filter(lambda m: len(m) > 1), st.data())
def test_without_the_cap_a_leave_moves_only_the_dead_members_stores(
    stores: set[str], members: set[str], data: st.DataObject,
) -> None:
    dead = data.draw(st.sampled_from(sorted(members)))
    before = assign(stores, members, load_factor=None)
    after = assign(stores, members - {dead}, load_factor=None)
    for store in stores:
        assert before[store] == dead or after[store] == before[store]


def displaced(result: dict[str, str], store: str, members: set[str]) -> bool:
    return result[store] != ranking(store, members)[0]


@given(STORES, MEMBERS, MEMBER)
def test_with_the_cap_a_join_moves_between_old_members_only_stores_the_cap_displaced(
    stores: set[str], members: set[str], newcomer: str,
) -> None:
    grown = members | {newcomer}
    before, after = assign(stores, members), assign(stores, grown)
    for store in stores:
        if after[store] not in (before[store], newcomer):
            assert displaced(before, store, members) or displaced(after, store, grown)


@given(STORES, MEMBERS.filter(lambda m: len(m) > 1), st.data())
def test_with_the_cap_a_leave_moves_survivors_stores_only_when_the_cap_displaced_them(
    stores: set[str], members: set[str], data: st.DataObject,
) -> None:
    dead = data.draw(st.sampled_from(sorted(members)))
    shrunk = members - {dead}
    before, after = assign(stores, members), assign(stores, shrunk)
    for store in stores:
        if before[store] != dead and after[store] != before[store]:
            assert displaced(before, store, members) or displaced(after, store, shrunk)


def test_a_fourth_replica_of_three_takes_its_share_and_at_most_half_the_stores_move() -> None:
    """Acceptance item 4 of issue 17 in numbers: 24 stores, three replicas, a fourth joins.

    HRW gives the newcomer its share on average, not a floor: over 500 fixed layouts the mean
    is a quarter and at most half the stores ever move, but a layout where the newcomer wins
    nothing exists (about 1 in 3000). Fixed seeds keep this test deterministic.
    """
    shares, most_moved = [], 0
    for seed in range(500):
        stores = {f"s3://state-{seed}-{i}" for i in range(24)}
        three = {f"kops-gitsync-{seed}-{i}" for i in range(3)}
        newcomer = f"kops-gitsync-{seed}-new"
        before, after = assign(stores, three), assign(stores, three | {newcomer})
        most_moved = max(most_moved, sum(before[s] != after[s] for s in stores))
        shares.append(len(owned_by(after, newcomer)))
    assert most_moved <= 12
    assert 5.5 <= sum(shares) / len(shares) <= 6.5
    assert max(shares) <= cap_for(24, 4)  # type: ignore[operator]


def test_no_members_own_nothing_and_no_stores_is_an_empty_assignment() -> None:
    assert assign({"s3://a"}, []) == {}
    assert assign([], {"kops-gitsync-0"}) == {}
    assert cap_for(0, 3) == 1
    assert cap_for(5, 0) is None
