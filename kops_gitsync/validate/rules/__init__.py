"""kops' semantic rules, one module per topic, run over one parsed cluster.

Every check is a pure function ``ClusterView -> Iterable[Issue]`` (update checks take the
previous and the current view). A check that crashes on odd data would hide every other
finding, so the runner turns an unexpected exception into an ``internal-error`` finding
naming the check, instead of a traceback in someone's commit hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import CONFIG_KEY, Check, ClusterView, UpdateCheck
from kops_gitsync.validate.rules.catalog import RULES, RuleInfo, rule
from kops_gitsync.validate.rules.cloud import CHECKS as CLOUD_CHECKS
from kops_gitsync.validate.rules.etcd import CHECKS as ETCD_CHECKS
from kops_gitsync.validate.rules.instancegroups import CHECKS as IG_CHECKS
from kops_gitsync.validate.rules.labels import CHECKS as LABEL_CHECKS
from kops_gitsync.validate.rules.names import CHECKS as NAME_CHECKS
from kops_gitsync.validate.rules.network import CHECKS as NETWORK_CHECKS
from kops_gitsync.validate.rules.stores import CHECKS as STORE_CHECKS
from kops_gitsync.validate.rules.strict import CHECKS as STRICT_CHECKS
from kops_gitsync.validate.rules.update import CHECKS as UPDATE_ONLY_CHECKS
from kops_gitsync.validate.rules.version import CHECKS as VERSION_CHECKS

__all__ = ["CHECKS", "RULES", "UPDATE_CHECKS", "RuleInfo", "run_rules", "run_update_rules"]

INTERNAL_ERROR = rule(
    "internal-error",
    "a check failed on unexpected input; the other checks still ran",
    "report it with the file that triggered it",
    "none (kops-gitsync)",
)

CHECKS: tuple[Check, ...] = (
    *NAME_CHECKS,
    *VERSION_CHECKS,
    *CLOUD_CHECKS,
    *NETWORK_CHECKS,
    *ETCD_CHECKS,
    *IG_CHECKS,
    *LABEL_CHECKS,
    *STORE_CHECKS,
    *STRICT_CHECKS,
)
UPDATE_CHECKS: tuple[UpdateCheck, ...] = UPDATE_ONLY_CHECKS


def run_rules(view: ClusterView) -> list[Issue]:
    issues: list[Issue] = []
    for check in CHECKS:
        issues.extend(_guarded(check.__name__, partial(check, view)))
    return issues


def run_update_rules(previous: ClusterView, current: ClusterView) -> list[Issue]:
    issues: list[Issue] = []
    if previous.cluster is None or current.cluster is None:
        return issues
    for check in UPDATE_CHECKS:
        issues.extend(_guarded(check.__name__, partial(check, previous, current)))
    return issues


def _guarded(name: str, produce: Callable[[], Iterable[Issue]]) -> list[Issue]:
    try:
        return list(produce())
    except Exception as exc:  # one broken check must not hide the others
        return [
            Issue(
                INTERNAL_ERROR,
                CONFIG_KEY,
                (),
                f"check {name} failed: {type(exc).__name__}: {exc}",
                severity="warning",
            )
        ]
