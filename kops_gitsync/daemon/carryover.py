"""What survives a reload: the runners for a new configuration, built from the old ones.

Kept apart from the loop (engine.py) because it is a policy of its own, with no threads or
sockets in it: a store whose name *and* URL are unchanged keeps its lease (so a reload never
lets another daemon take a store over), its state and the time of its last check; the same
name for another store starts afresh; a store gone from the configuration gives its lease
back. Leases follow ``auto_push``: taken when it is switched on, released when it is off.
"""

from __future__ import annotations

from kops_gitsync.daemon.lease import Lease
from kops_gitsync.daemon.runner import StoreRunner, journal_lock_id
from kops_gitsync.daemon.scheduler import StoreSchedule
from kops_gitsync.sync.context import SyncContext


def carry_over(old: dict[str, StoreRunner], contexts: list[SyncContext], lease_ttl: float,
               now: float) -> dict[str, StoreRunner]:
    """Runners for ``contexts``, scheduled from ``now``; every runner of ``old`` is either
    carried into them (its previous context closed) or retired; each is popped from ``old``
    as it is dealt with, so a failure part-way leaves there only what is still open."""
    runners: dict[str, StoreRunner] = {}
    for ctx in contexts:
        previous = old.pop(ctx.name, None)
        if previous is not None and previous.ctx.url != ctx.url:
            retire(previous)  # same name, another store: nothing carries over
            previous = None
        lease = previous.lease if previous is not None else None
        if ctx.config.auto_push and lease is None:
            lease = Lease(ctx.name, ctx.store, lease_ttl, adopt_id=journal_lock_id(ctx))
        elif not ctx.config.auto_push and lease is not None:
            lease.release()
            lease = None
        if lease is not None:
            lease.lock.store = ctx.store  # renew through the newly opened store
        runner = StoreRunner(ctx, StoreSchedule(ctx.name, ctx.config.interval), lease)
        if previous is not None:
            runner.state = previous.state
            runner.state.auto_push = ctx.config.auto_push
            runner.checked = previous.checked
            previous.ctx.close()
        runner.schedule.start(now)
        runners[ctx.name] = runner
    for gone in old.values():  # stores removed from the config
        retire(gone)
    return runners


def retire(runner: StoreRunner) -> None:
    """A store the new configuration no longer runs: give its lease back, close it."""
    if runner.lease is not None:
        runner.lease.release()
    runner.ctx.close()
