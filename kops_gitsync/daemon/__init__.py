"""``kops-gitsync daemon``: pull and push on a schedule, unattended, for months.

The daemon adds no sync logic of its own. It decides *when* to call
:func:`kops_gitsync.sync.pull.pull` and :func:`kops_gitsync.sync.push.push` (``scheduler``,
``watchers``), *whether* it may write at all (``lease``), and how an operator sees what it
does (``logs``, ``state``, ``metrics``, ``notify``). Nothing here is imported by the hooks
or by the other verbs, so its optional dependencies (watchdog, prometheus-client) cost them
nothing.
"""
