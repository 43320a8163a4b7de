"""kops' semantic rules, one module per topic, run over one parsed cluster.

Every check is a pure function ``ClusterView -> Iterable[Issue]`` (update checks take the
previous and the current view). A check that crashes has not checked anything, so the
runner turns the exception into a ``rule-crashed`` *error* (validate/guard.py: fail closed)
naming the check and the file it tripped over, and the other checks still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial

from kops_gitsync.validate.guard import crash_issue
from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.addons import CHECKS as ADDON_CHECKS
from kops_gitsync.validate.rules.awscluster import CHECKS as AWS_CLUSTER_CHECKS
from kops_gitsync.validate.rules.awsig import CHECKS as AWS_IG_CHECKS
from kops_gitsync.validate.rules.base import CONFIG_KEY, Check, ClusterView, UpdateCheck, ig_key
from kops_gitsync.validate.rules.catalog import RULES, RuleInfo
from kops_gitsync.validate.rules.cloud import CHECKS as CLOUD_CHECKS
from kops_gitsync.validate.rules.clusterspec import CHECKS as CLUSTER_SPEC_CHECKS
from kops_gitsync.validate.rules.components import CHECKS as COMPONENT_CHECKS
from kops_gitsync.validate.rules.containerd import CHECKS as CONTAINERD_CHECKS
from kops_gitsync.validate.rules.enums import CHECKS as ENUM_CHECKS
from kops_gitsync.validate.rules.etcd import CHECKS as ETCD_CHECKS
from kops_gitsync.validate.rules.hooks import CHECKS as HOOK_CHECKS
from kops_gitsync.validate.rules.iam import CHECKS as IAM_CHECKS
from kops_gitsync.validate.rules.instancegroups import CHECKS as IG_CHECKS
from kops_gitsync.validate.rules.karpenter import CHECKS as KARPENTER_CHECKS
from kops_gitsync.validate.rules.labels import CHECKS as LABEL_CHECKS
from kops_gitsync.validate.rules.names import CHECKS as NAME_CHECKS
from kops_gitsync.validate.rules.network import CHECKS as NETWORK_CHECKS
from kops_gitsync.validate.rules.providers import CHECKS as PROVIDER_CHECKS
from kops_gitsync.validate.rules.regional import CHECKS as REGIONAL_CHECKS
from kops_gitsync.validate.rules.rollout import CHECKS as ROLLOUT_CHECKS
from kops_gitsync.validate.rules.stores import CHECKS as STORE_CHECKS
from kops_gitsync.validate.rules.strict import CHECKS as STRICT_CHECKS
from kops_gitsync.validate.rules.update import CHECKS as UPDATE_ONLY_CHECKS
from kops_gitsync.validate.rules.version import CHECKS as VERSION_CHECKS

__all__ = ["CHECKS", "RULES", "UPDATE_CHECKS", "RuleInfo", "run_rules", "run_update_rules"]

CHECKS: tuple[Check, ...] = (
    *NAME_CHECKS,
    *VERSION_CHECKS,
    *CLOUD_CHECKS,
    *REGIONAL_CHECKS,
    *AWS_CLUSTER_CHECKS,
    *AWS_IG_CHECKS,
    *ENUM_CHECKS,
    *CLUSTER_SPEC_CHECKS,
    *COMPONENT_CHECKS,
    *ADDON_CHECKS,
    *IAM_CHECKS,
    *CONTAINERD_CHECKS,
    *NETWORK_CHECKS,
    *PROVIDER_CHECKS,
    *ETCD_CHECKS,
    *IG_CHECKS,
    *ROLLOUT_CHECKS,
    *HOOK_CHECKS,
    *KARPENTER_CHECKS,
    *LABEL_CHECKS,
    *STORE_CHECKS,
    *STRICT_CHECKS,
)
UPDATE_CHECKS: tuple[UpdateCheck, ...] = UPDATE_ONLY_CHECKS


def run_rules(view: ClusterView) -> list[Issue]:
    issues: list[Issue] = []
    for check in CHECKS:
        issues.extend(_guarded(check, check, view))
    return issues


def run_update_rules(previous: ClusterView, current: ClusterView) -> list[Issue]:
    issues: list[Issue] = []
    if previous.cluster is None or current.cluster is None:
        return issues
    for check in UPDATE_CHECKS:
        issues.extend(_guarded(check, partial(check, previous), current))
    return issues


def check_name(check: Callable[..., object]) -> str:
    """``check instancegroups.check_sizes``: the module and function a maintainer opens."""
    module = str(getattr(check, "__module__", "") or "")
    return f"check {module.rsplit('.', 1)[-1]}.{getattr(check, '__name__', repr(check))}"


def _guarded(
    check: Callable[..., object], run: Callable[[ClusterView], Iterable[Issue]], view: ClusterView
) -> list[Issue]:
    try:
        return list(run(view))
    except Exception as exc:  # fail closed, on the file that tripped the check
        return [crash_issue(check_name(check), _culprit(run, view), exc)]


def _culprit(run: Callable[[ClusterView], Iterable[Issue]], view: ClusterView) -> str:
    """The file a crashing check trips over: rerun it on the Cluster alone, then with one IG.

    Checks are pure functions of the view, so rerunning them is safe; this only happens
    after a crash. When no single file reproduces it, the crash is blamed on ``config``.
    """
    if view.cluster is not None and _crashes(run, replace(view, igs={}, ig_files=())):
        return CONFIG_KEY
    for name in sorted(view.igs):
        alone = replace(view, igs={name: view.igs[name]}, ig_files=(name,))
        if _crashes(run, alone):
            return ig_key(name)
    return CONFIG_KEY


def _crashes(run: Callable[[ClusterView], Iterable[Issue]], view: ClusterView) -> bool:
    try:
        list(run(view))
    except Exception:
        return True
    return False
