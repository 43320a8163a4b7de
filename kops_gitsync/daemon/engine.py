"""The daemon's main loop: one thread does all git and store work, others only wake it.

Why a single worker: every store mirrors into the same repository, and two pulls merging
into one branch at once would fight over the index. So the watchers, the lease keeper and
the signal handlers never *do* anything; they set a flag and write a byte to a wake-up
socket (``signal.set_wakeup_fd`` for signals, so no lock is ever taken inside a signal
handler). The loop then runs whatever is due, one store at a time, each in its own
try/except: a failing store backs off alone.

Signals: SIGTERM/SIGINT let the operation in flight finish (a pull is all-or-nothing, a push
is journaled), then the leases are released and the process exits 0. SIGHUP re-reads
``.kops-gitsync.yaml``; a config that does not load is logged and the running one kept.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from kops_gitsync.daemon import logs
from kops_gitsync.daemon.carryover import carry_over
from kops_gitsync.daemon.endpoints import Endpoints, Heartbeat
from kops_gitsync.daemon.lease import LeaseKeeper
from kops_gitsync.daemon.metrics import Metrics
from kops_gitsync.daemon.notify import Notifier
from kops_gitsync.daemon.remote import RemoteSync
from kops_gitsync.daemon.replicas import ReplicaOptions, Replicas
from kops_gitsync.daemon.runner import (
    Outcome,
    StoreRunner,
    error_kind,
    log_outcome,
    requests_sent,
    status_line,
)
from kops_gitsync.daemon.scheduler import due, seconds_until_next
from kops_gitsync.daemon.state import DaemonState, iso, write_state
from kops_gitsync.daemon.watchers import BRANCH_MOVED, Watchers
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.sync.context import SyncContext, open_contexts
from kops_gitsync.vfs.file import FileStore


@dataclass(frozen=True)
class Options:
    repo_dir: Path | None
    store_name: str | None
    lease_ttl: float
    fetch_interval: float
    metrics_port: int | None
    once: bool
    push_remote: bool
    env: Mapping[str, str]
    listen_address: str = "127.0.0.1"  # of the HTTP endpoints (--metrics-port)
    tick: float = 5.0  # with endpoints, the loop wakes this often; /healthz counts the ticks
    replicas: ReplicaOptions | None = None  # --membership kubernetes (daemon/replicas.py)


class Daemon:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.notifier = Notifier(options.env)
        self.metrics = Metrics(lambda: self.state.stores)
        self.state = DaemonState()
        self.endpoints: Endpoints | None = None
        self.runners: dict[str, StoreRunner] = {}
        self.heartbeat = Heartbeat(options.tick, progress=lambda: requests_sent(self.runners))
        self.repo: GitRepo | None = None
        self._watchers: Watchers | None = None
        self._keeper: LeaseKeeper | None = None
        self.replicas: Replicas | None = None
        self._stopping = False
        self._reload = False
        self.failures: list[str] = []  # one line per failed turn, for --once's exit status
        self.remote = RemoteSync(options.fetch_interval, options.push_remote)
        self._schedule_lock = threading.Lock()  # pokes come from the watcher threads
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    # --- set-up and reload ------------------------------------------------------------

    def _load(self) -> list[SyncContext]:
        """Open every configured store; FatalError (bad config, unknown scheme) if any fails."""
        opts = self.options
        return open_contexts(opts.repo_dir, opts.store_name, None, opts.env)

    def _install(self, contexts: list[SyncContext]) -> None:
        """Make ``contexts`` the running set, keeping leases and history of unchanged stores."""
        self._stop_helpers()
        runners = carry_over(self.runners, contexts, self.options.lease_ttl, time.monotonic())
        self.runners = runners
        self.repo = contexts[0].repo if contexts else None
        self.state.stores = {name: r.state for name, r in runners.items()}
        self.state.config_source = str(self.repo.root / ".kops-gitsync.yaml") if self.repo else None
        self._coordinate()  # gates on the leases before their first tick
        self._start_helpers()

    def _start_helpers(self) -> None:
        leases = [r.lease for r in self.runners.values() if r.lease is not None]
        for lease in leases:  # take what we can before the first turn
            if lease.tick():
                self._lease_changed(lease.name, lease.held)
        if leases and not self.options.once:
            self._keeper = LeaseKeeper(leases, self._lease_changed)
            self._keeper.start()
        if self.options.once or self.repo is None:
            return
        self._watchers = Watchers(self.poke)
        for runner in self.runners.values():
            if isinstance(runner.ctx.store, FileStore):
                self._watchers.watch_store_dir(runner.name, runner.ctx.store.root)
        pushers = [r.name for r in self.runners.values() if r.ctx.config.auto_push]
        if pushers:
            self._watchers.watch_refs(self.repo.git_dir, pushers)
        self._watchers.start()

    def _stop_helpers(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper.join(timeout=10)
            self._keeper = None
        if self._watchers is not None:
            self._watchers.stop()
            self._watchers = None

    def reload(self) -> None:
        self._reload = False
        self.notifier.reloading()
        try:
            contexts = self._load()
        except FatalError as exc:
            self.state.config_error = str(exc)
            self._publish()  # the state file says so before the event does: readers see both
            logs.event(logging.ERROR, "new configuration rejected; the running one is kept",
                       action="reload", result="rejected", error=str(exc))
            self.notifier.ready(status_line(self.runners.values(), self.state.config_error))
            return
        self.state.config_error = None
        self._install(contexts)
        logs.event(action="reload", result="ok", stores=",".join(self.runners))
        self.notifier.ready(status_line(self.runners.values(), self.state.config_error))

    # --- wake-ups from other threads and from signals --------------------------------

    def wake(self) -> None:
        # BlockingIOError: the socket is full of wake-ups already; the loop will wake anyway.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def poke(self, store_name: str, reason: str) -> None:
        runner = self.runners.get(store_name)
        if runner is not None:
            with self._schedule_lock:
                runner.schedule.poke(reason, time.monotonic())
            self.wake()

    def _lease_changed(self, store_name: str, held: bool) -> None:
        runner = self.runners.get(store_name)
        if runner is None or runner.lease is None:
            return
        holder = runner.lease.holder_description()
        logs.event(logging.WARNING if not held else logging.INFO, runner.lease.last_error or "",
                   store=store_name, action="lease", result="held" if held else "standby",
                   holder=holder)
        self.metrics.lease(store_name, held, holder)
        if held:
            self.poke(store_name, "lease acquired")
        self.wake()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload = True
        else:
            self._stopping = True

    def _sleep(self, timeout: float) -> None:
        select.select([self._wake_r], [], [], max(0.0, timeout))
        with contextlib.suppress(OSError):  # drained: BlockingIOError
            while self._wake_r.recv(4096):
                pass

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        # `kill -USR1` prints every thread's stack to the journal: how to see where a daemon
        # that stopped logging is stuck, without stopping it.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        if self.options.replicas is not None:  # a bad kubeconfig: one line, nothing opened yet
            self.replicas = Replicas.from_options(self.options.replicas, self.options.env)
        contexts = self._load()
        try:
            if self.options.metrics_port is not None:
                self.endpoints = Endpoints.start(
                    self.options.listen_address, self.options.metrics_port, lambda: self.state,
                    self.heartbeat, self.metrics)
            self._install(contexts)  # takes leases: a failure after it must release them
            if self.replicas is not None:  # joins once ready to take its stores at once
                self.replicas.start()
                self._coordinate()
            logs.event(action="start", result="ok", pid=os.getpid(),
                       stores=",".join(self.runners))
            self.state.activity = "running"
            self.notifier.ready(status_line(self.runners.values(), self.state.config_error))
            if self.options.once:
                self._once()
            else:
                self._loop()
        finally:
            if not self.runners:  # _install never got as far as owning them
                for ctx in contexts:
                    ctx.close()
            self._shutdown()
        return 1 if self.failures else 0

    def _once(self) -> None:
        """One turn of the loop for every store, remote included (cron). Failures go to
        :attr:`failures` and the exit status: a cron job only ever sees that."""
        self._remote(fetch=True)
        for runner in list(self.runners.values()):
            if runner.standby() and runner.lease is not None:  # not a failure: the holder works
                logs.event(logging.WARNING, "another daemon holds the lease: skipped",
                           store=runner.name, action="lease", result="standby",
                           holder=runner.lease.holder_description())
            self._turn(runner)
        self._remote(fetch=False)

    def _remote(self, fetch: bool) -> None:
        """Fetch approvals (poking the stores they concern), or publish what was pulled."""
        if self.repo is None:
            return
        if fetch:
            for name in self.remote.maybe_fetch(self.repo, list(self.runners.values())):
                self.poke(name, "approved upstream")
        else:
            self.remote.publish(self.repo, [r.ctx for r in self.runners.values()])
        if self.options.once and self.remote.last_error:
            self.failures.append(self.remote.last_error)

    def _loop(self) -> None:
        watchdog_every = self.notifier.watchdog_interval
        while not self._stopping:
            if self._reload:
                self.reload()
            self._coordinate()
            self._remote(fetch=True)
            for schedule in due([r.schedule for r in self.runners.values()], time.monotonic()):
                if self._stopping or self._reload:
                    break
                self._coordinate()  # cheap (no API call): a turn can be long
                self._turn(self.runners[schedule.name])
            self._remote(fetch=False)
            self._publish()
            if self._stopping:
                break
            wait = seconds_until_next([r.schedule for r in self.runners.values()],
                                      time.monotonic())
            tick = self.options.tick if self.endpoints else None
            caps = [w for w in (wait, watchdog_every, self.remote.fetch_wait(), tick,
                                self.replicas.wait() if self.replicas else None)
                    if w is not None]
            self._sleep(min(caps) if caps else 60.0)

    def _coordinate(self) -> None:
        """Replicas: who owns which store now (daemon/replicas.py); nothing without them."""
        if self.replicas is not None:
            self.replicas.update(self.runners, self.state, self._publish, self._lease_changed,
                                 self.poke, self.metrics)

    def _turn(self, runner: StoreRunner) -> None:
        """One store's pull and push, isolated: any exception only backs this store off."""
        schedule = runner.schedule
        with self._schedule_lock:
            reasons = schedule.begin(time.monotonic())
        reason = "+".join(sorted(reasons))
        if self.replicas is not None and not self.replicas.owns(runner.name):
            schedule.idle(time.monotonic())  # another replica's: poked when assigned here
            return
        if runner.standby():
            assert runner.lease is not None
            if runner.lease.held:
                # Ours, but the last renewal is too old to write on: wait for the keeper's
                # next one rather than dropping what this turn was for.
                schedule.defer(reasons, time.monotonic(), runner.lease.ttl / 4)
                return
            runner.state.lease = "standby"
            runner.state.lease_holder = runner.lease.holder_description()
            schedule.idle(time.monotonic())  # the keeper pokes us when the lease is ours
            return
        outcome = Outcome("pull", "failed")
        pull = reasons != {BRANCH_MOVED}  # a ref move changes git, not the store
        try:
            if pull:
                runner.state.activity = "pulling"
                self._publish()
                outcome = runner.pull_step()
                log_outcome(runner, outcome, reason)
                self.metrics.pulled(runner.name, time.time())
                self.metrics.operation(runner.name, "pull", outcome.result)
            outcome = Outcome("push", "failed")
            if not self._stopping:
                runner.state.activity = "pushing"
                pushed = runner.push_step()
                if pushed is not None:
                    outcome = pushed
                    log_outcome(runner, outcome, reason)
                    self.metrics.pushed(runner.name, time.time())
                    self.metrics.operation(runner.name, "push", outcome.result)
            if self.metrics.enabled:
                self._measure_drift(runner)
        except Exception as exc:  # isolation: one store's failure never stops the others
            self._failed(runner, outcome, reason, exc)
            return
        finally:
            runner.state.activity = "idle"
        runner.state.failures = 0
        runner.state.last_error = None
        if pull:  # a push-only turn must not postpone the next pull: commits can be frequent
            schedule.succeeded(time.monotonic())

    def _failed(self, runner: StoreRunner, outcome: Outcome, reason: str,
                exc: Exception) -> None:
        kind = error_kind(exc)
        now = time.monotonic()
        if kind == "refused" and outcome.action == "push":
            # The pull worked; the push was refused and waits for the next change.
            runner.schedule.succeeded(now)
            retry = None
        else:
            retry = runner.schedule.failed(now)
        runner.state.failures = runner.schedule.failures
        runner.state.last_error = f"{outcome.action}: {exc}"
        runner.state.last_error_at = iso(time.time())
        outcome.result = "refused" if kind == "refused" else "error"
        if self.options.once:  # the long-running loop logs failures and retries them
            self.failures.append(f"{runner.name}: {outcome.action} {outcome.result}: {exc}")
        outcome.extra.update(kind=kind, retry_in=None if retry is None else round(retry, 1))
        log_outcome(runner, outcome, reason, error=str(exc), exc_info=kind == "internal")
        self.metrics.error(runner.name, outcome.action, kind)
        self.metrics.operation(runner.name, outcome.action, outcome.result)

    def _measure_drift(self, runner: StoreRunner) -> None:
        try:
            drift = runner.measure_drift()
        except (FatalError, OSError) as exc:
            logs.event(logging.DEBUG, str(exc), store=runner.name, action="drift", result="unknown")
            return
        runner.state.drift = drift
        if drift is not None:
            self.metrics.drift(runner.name, drift)

    # --- observability and shutdown --------------------------------------------------

    def _publish(self) -> None:
        """State file, systemd STATUS, watchdog ping and /healthz: proof the loop is alive."""
        self.heartbeat.beat()
        wall, mono = time.time(), time.monotonic()
        for runner in self.runners.values():
            st = runner.state
            if runner.lease is not None:
                valid = runner.lease.valid()
                st.lease = "held" if valid else (
                    "released" if self.state.activity == "stopped" else "standby")
                st.lease_holder = runner.lease.holder_description()
                self.metrics.lease(runner.name, valid, st.lease_holder)
            st.next_run = iso(wall + runner.schedule.wait(mono))
        if self.repo is not None:
            try:
                write_state(self.repo.git_dir, self.state)
            except OSError as exc:
                logs.event(logging.WARNING, str(exc), action="state", result="error")
        self.notifier.status(status_line(self.runners.values(), self.state.config_error))
        self.notifier.watchdog()

    def _shutdown(self) -> None:
        self.notifier.stopping("stopping: releasing leases")
        self._stop_helpers()
        for runner in self.runners.values():
            if runner.lease is not None:
                runner.lease.release()
        if self.replicas is not None:  # after the locks: the others take over at once
            self.replicas.stop()
        self.state.activity = "stopped"
        self._publish()
        if self.endpoints is not None:
            self.endpoints.close()
        for runner in self.runners.values():
            runner.ctx.close()
        signal.set_wakeup_fd(-1)
        logs.event(action="stop", result="ok")

