"""The three-way planner, checked exhaustively: every combination of absent / same / changed
in base, ours and live, for one key, plus hypothesis over many keys at once."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from kops_gitsync.sync.plan import Op, plan_push
from kops_gitsync.sync.syncstate import Recorded

# Content states relative to base: None = absent, "b" = base content, "x"/"y" = other contents.
CONTENTS = [None, "b", "x"]
LIVE = [None, "b", "x", "y"]


def _run(base: str | None, ours: str | None, live: str | None, known_live: bool = False):  # type: ignore[no-untyped-def]
    base_map = {"k": Recorded("v-" + base, 1, "sha-" + base)} if base else {}
    ours_map = {"k": "sha-" + ours} if ours else {}
    live_map = {"k": "v-" + live} if live else {}
    known = {("k", "v-" + live): "sha-" + live} if (live and known_live) else {}
    return plan_push(base_map, ours_map, live_map, known, lambda key: True)


def test_every_single_key_combination() -> None:
    for base, ours, live in itertools.product(CONTENTS, CONTENTS, LIVE):
        # push reads a live object whose content it cannot tell from versions, so the
        # planner always knows live content here; unknown content is tested below
        plan = _run(base, ours, live, known_live=True)
        where = (base, ours, live)
        if ours == base:
            # ours changed nothing: never act, whatever the store did
            assert plan.actions == [] and plan.conflicts == [], where
            # keys git never held are not the planner's business (pull reports them)
            assert ("k" in plan.store_only) == (base is not None and live != base), where
            continue
        if live == ours:
            # the store already holds our content: nothing to write, no conflict
            assert plan.actions == [] and plan.conflicts == [], where
            continue
        if live == base:
            # the store is still at base: act, conditional on exactly that version
            assert len(plan.actions) == 1 and not plan.conflicts, where
            action = plan.actions[0]
            assert action.expect == (("v-" + base) if base else None), where
            expected_op = Op.DELETE if ours is None else (Op.CREATE if base is None else Op.UPDATE)
            assert action.op is expected_op, where
            continue
        # the store moved to something else and ours changed too: conflict, no action
        assert plan.actions == [], where
        assert [c.key for c in plan.conflicts] == ["k"], where


def test_live_content_known_from_an_earlier_push_counts_as_already_applied() -> None:
    plan = _run("b", "x", "x", known_live=True)
    assert plan.already_applied == ["k"] and not plan.conflicts


def test_unknown_live_content_on_a_changed_key_is_a_conflict() -> None:
    plan = _run("b", "x", "y", known_live=False)
    assert [c.key for c in plan.conflicts] == ["k"] and not plan.actions


def test_unpushable_keys_are_reported_not_written() -> None:
    plan = plan_push(
        {"k": Recorded("v1", 1, "s1")}, {"k": "s2"}, {"k": "v1"}, {}, lambda key: False
    )
    assert plan.actions == [] and plan.not_pushable == ["k"]


def test_never_deletes_what_git_never_held() -> None:
    plan = plan_push({}, {}, {"store-only-key": "v1"}, {}, lambda key: True)
    assert plan.empty


states = st.sampled_from(CONTENTS)
live_states = st.sampled_from(LIVE)


@given(
    st.dictionaries(st.text("abc/", min_size=1, max_size=4), st.tuples(states, states, live_states))
)
def test_many_keys_actions_only_where_ours_changed(
    table: dict[str, tuple[str | None, str | None, str | None]],
) -> None:
    base = {k: Recorded("v-" + b, 1, "sha-" + b) for k, (b, _, _) in table.items() if b}
    ours = {k: "sha-" + o for k, (_, o, _) in table.items() if o}
    live = {k: "v-" + lv for k, (_, _, lv) in table.items() if lv}
    plan = plan_push(base, ours, live, {}, lambda key: True)
    touched = {a.key for a in plan.actions} | {c.key for c in plan.conflicts}
    changed_by_ours = {k for k, (b, o, _) in table.items() if b != o}
    assert touched <= changed_by_ours
    for action in plan.actions:
        assert action.expect == live.get(action.key)
