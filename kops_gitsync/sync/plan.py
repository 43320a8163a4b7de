"""The three-way push planner: a pure function of three states, no I/O.

* **base**: the store state the pushed commit was built on (key -> version and sha256, from
  the sync state of the newest observed commit the pushed commit contains);
* **ours**: the pushed commit's mirror (key -> sha256 of its content);
* **live**: the store listing now (key -> version);
* **known**: what later observations (e.g. an earlier push from this branch) recorded
  (key, version) -> sha256, so a version we wrote ourselves is recognised as ours.

Only what *ours* changed relative to *base* is ever written or deleted. A store change to
an object ours did not change is left alone (never reverted); one to an object ours did
change is a conflict. Every action carries the live version it expects, so a racing writer
between planning and applying makes the write fail instead of being overwritten.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kops_gitsync.sync.syncstate import Recorded


class Op(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    op: Op
    key: str
    expect: str | None  # live version the store must still hold; None: must be absent
    sha256: str | None  # target content; None for deletes


@dataclass(frozen=True)
class Conflict:
    key: str
    reason: str


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    store_only: list[str] = field(default_factory=list)  # changed in the store, left alone
    not_pushable: list[str] = field(default_factory=list)  # changed in git, policy says no

    @property
    def deletes(self) -> list[Action]:
        return [a for a in self.actions if a.op is Op.DELETE]

    @property
    def empty(self) -> bool:
        return not self.actions and not self.conflicts


def _live_content(
    key: str,
    live_version: str | None,
    base: Recorded | None,
    known: Mapping[tuple[str, str], str],
) -> str | object | None:
    """sha256 of what the store holds now; None if absent; UNKNOWN if someone else wrote it."""
    if live_version is None:
        return None
    if base is not None and base.version == live_version:
        return base.sha256
    return known.get((key, live_version), UNKNOWN)


UNKNOWN = object()


def plan_push(
    base: Mapping[str, Recorded],
    ours: Mapping[str, str],
    live: Mapping[str, str],
    known: Mapping[tuple[str, str], str],
    pushable: Callable[[str], bool],
) -> Plan:
    plan = Plan()
    for key in sorted(set(base) | set(ours)):
        recorded = base.get(key)
        base_sha = recorded.sha256 if recorded else None
        ours_sha = ours.get(key)
        live_version = live.get(key)
        base_version = recorded.version if recorded else None

        if ours_sha == base_sha:
            if live_version != base_version:
                plan.store_only.append(key)
            continue
        if not pushable(key):
            plan.not_pushable.append(key)
            continue

        now = _live_content(key, live_version, recorded, known)
        if now == ours_sha:
            plan.already_applied.append(key)
        elif live_version == base_version:
            if ours_sha is None:
                plan.actions.append(Action(Op.DELETE, key, live_version, None))
            elif live_version is None:
                plan.actions.append(Action(Op.CREATE, key, None, ours_sha))
            else:
                plan.actions.append(Action(Op.UPDATE, key, live_version, ours_sha))
        elif live_version is None:
            plan.conflicts.append(Conflict(key, "deleted in the store, changed in git"))
        elif recorded is None:
            plan.conflicts.append(Conflict(key, "created in the store and in git"))
        elif ours_sha is None:
            plan.conflicts.append(Conflict(key, "changed in the store, deleted in git"))
        else:
            plan.conflicts.append(Conflict(key, "changed in the store and in git"))
    return plan
