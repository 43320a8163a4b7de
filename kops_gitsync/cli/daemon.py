"""``kops-gitsync daemon``: keep every configured store mirrored, push approved branches.

Runs in the foreground (systemd, a container or a terminal supervise it; it never forks).
Which stores it pushes is decided by each store's ``auto_push`` in ``.kops-gitsync.yaml``,
never by a flag here, so the repository under review says what the daemon may do.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kops_gitsync.errors import FatalError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, default=None, metavar="DIR",
                        help="the review repository (default: the current directory)")
    parser.add_argument("--store", default=None, metavar="NAME",
                        help="run only this store (default: every store in the config)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="one line per event, as key=value text or JSON (default: text)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve /healthz, /readyz, /metrics (needs the daemon extra), "
                             "/status and a status page on PORT (0 picks a free port)")
    parser.add_argument("--listen-address", default="127.0.0.1", metavar="ADDR",
                        help="the address --metrics-port listens on (default: 127.0.0.1; "
                             "0.0.0.0 in a pod, so the kubelet can probe)")
    parser.add_argument("--tick", type=float, default=5.0, metavar="SECONDS",
                        help="with --metrics-port, the loop wakes at least this often and "
                             "/healthz fails after 3 ticks without one (default: 5)")
    parser.add_argument("--lease-ttl", type=float, default=60.0, metavar="SECONDS",
                        help="how long the store lease lasts without renewal; a standby daemon "
                             "takes over this long after the holder dies (default: 60)")
    parser.add_argument("--fetch-interval", type=float, default=60.0, metavar="SECONDS",
                        help="fetch the tracked git remote this often, 0 to never (default: 60)")
    parser.add_argument("--push-remote", action="store_true",
                        help="push observed refs, and the branch they merge into, to the "
                             "tracked git remote, so store drift shows up where you review")
    parser.add_argument("--once", action="store_true",
                        help="one turn of the loop (fetch, pull and push every store, publish), "
                             "then exit; exit status 1 and a line per failure if any failed "
                             "(for cron)")
    parser.add_argument("--membership", choices=("none", "kubernetes"), default="none",
                        help="share the stores with other replicas through membership Leases "
                             "in the Kubernetes API (docs/kubernetes.md; needs the k8s extra); "
                             "default: none, this daemon tries every store")
    parser.add_argument("--namespace", default=None, metavar="NS",
                        help="with --membership kubernetes: where the membership Leases live "
                             "(default: $POD_NAMESPACE, then the pod's service account "
                             "namespace)")
    parser.add_argument("--member-name", default=None, metavar="NAME",
                        help="with --membership kubernetes: this replica's Lease name (default: "
                             "$POD_NAME, then the hostname); `replica: NAME` pins a store to it")
    parser.add_argument("--member-lease-duration", type=float, default=15.0, metavar="SECONDS",
                        help="with --membership kubernetes: a replica that has not renewed its "
                             "Lease for this long is dead to the others, and owns nothing "
                             "itself; renewed every third (default: 15)")
    parser.add_argument("--verbose", action="store_true", help="log debug events too")


def run(args: argparse.Namespace) -> int:
    import logging

    from kops_gitsync.daemon import logs

    if args.lease_ttl < 4:
        raise FatalError("--lease-ttl must be at least 4 seconds (it is renewed every quarter)")
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        raise FatalError(f"--metrics-port {args.metrics_port} is not a TCP port")
    if not 0.05 <= args.tick <= 3600:
        raise FatalError(f"--tick {args.tick:g}: give a number of seconds from 0.05 to 3600")
    if args.membership == "kubernetes" and args.once:
        raise FatalError("--once cannot be combined with --membership kubernetes: a single "
                         "turn would try stores before the other replicas are known")
    logs.setup(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    try:
        from kops_gitsync.daemon.engine import Daemon, Options
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("watchdog"):
            raise FatalError(
                "the daemon needs the Python package 'watchdog': "
                "pip install 'kops-gitsync[daemon]'"
            ) from None
        raise
    from kops_gitsync.daemon.replicas import resolve_options

    replicas = resolve_options(args.membership, args.namespace, args.member_name,
                               args.member_lease_duration, os.environ)
    options = Options(
        repo_dir=args.repo,
        store_name=args.store,
        lease_ttl=args.lease_ttl,
        fetch_interval=args.fetch_interval,
        metrics_port=args.metrics_port,
        once=args.once,
        push_remote=args.push_remote,
        env=dict(os.environ),
        listen_address=args.listen_address,
        tick=args.tick,
        replicas=replicas,
    )
    daemon = Daemon(options)
    code = daemon.run()
    for line in daemon.failures:  # only --once collects them: the loop retries instead
        print(f"kops-gitsync daemon: {line}", file=sys.stderr)
    return code
