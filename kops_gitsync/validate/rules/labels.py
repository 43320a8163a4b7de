"""Instance group labels: node labels Kubernetes accepts, cloud labels kops does not own.

``nodeLabels`` end up on the Node object, and the API server refuses a Node whose label
keys are not qualified names or whose values are not label values, so a bad one leaves
the instances of the group unable to register. kops itself only refuses a key with two
slashes; the full Kubernetes syntax is checked here so the mistake is seen at commit time.

``cloudLabels`` become cloud tags (AWS tags, GCE labels), which follow the cloud's syntax,
not Kubernetes'. kops refuses the tag names it manages itself (``Name``,
``KubernetesCluster``, ``kubernetes.io/cluster/*``, ...) and lets
``kops.k8s.io/instancegroup`` only name the group itself; those are the checks here.
The helpers that say why a label key or value is invalid are shared with the taint check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    as_str,
    ig_issue,
    ig_name,
    ig_spec,
)
from kops_gitsync.validate.rules.catalog import rule

_IG = "pkg/apis/kops/validation/instancegroup.go"
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
NAME_MAX = 63
PREFIX_MAX = 253
INSTANCE_GROUP_TAG = "kops.k8s.io/instancegroup"
RESERVED_CLOUD_LABELS = ("Name", "KubernetesCluster")
RESERVED_CLOUD_LABEL_PREFIXES = ("kubernetes.io/cluster/", "k8s.io/role/", "kops.k8s.io/")

IG_NODE_LABELS = rule(
    "ig-node-labels",
    "the API server refuses a Node whose label keys or values break Kubernetes' label syntax,"
    " so the group's instances never register",
    "write keys as [dns.prefix/]name (name ≤63 chars) and values of ≤63 chars, alphanumeric"
    " at both ends with only - _ . inside",
    f"{_IG}: validateNodeLabels (one slash); apimachinery IsQualifiedName, IsValidLabelValue")
IG_CLOUD_LABELS = rule(
    "ig-cloud-labels",
    "kops and the cloud controllers own some tag names; an IG overriding them breaks discovery",
    "rename the cloud label (not Name, KubernetesCluster, kubernetes.io/cluster/*,"
    " k8s.io/role/*, kops.k8s.io/*), and let kops.k8s.io/instancegroup name this IG only",
    f"{_IG}: validateIGCloudLabels; cluster.go: validateCloudLabels")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None if it is."""
    prefix, slash, name = key.rpartition("/")
    if key.count("/") > 1:
        return "has more than one '/'"
    if slash and not prefix:
        return "has an empty prefix before '/'"
    if prefix and (len(prefix) > PREFIX_MAX or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"prefix {prefix!r} is not a lower-case DNS subdomain of ≤{PREFIX_MAX} chars"
    if not name:
        return "has an empty name"
    if len(name) > NAME_MAX:
        return f"name is {len(name)} chars, more than {NAME_MAX}"
    if not _NAME_PART.fullmatch(name):
        return "name must be alphanumeric at both ends with only - _ . inside"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value, or None if it is (empty is allowed)."""
    if len(value) > NAME_MAX:
        return f"is {len(value)} chars, more than {NAME_MAX}"
    if value and not _NAME_PART.fullmatch(value):
        return "must be alphanumeric at both ends with only - _ . inside"
    return None


def check_node_labels(view: ClusterView) -> Iterator[Issue]:
    for file_name, ig in sorted(view.igs.items()):
        for key, value in as_dict(ig_spec(ig).get("nodeLabels")).items():
            where = ("spec", "nodeLabels", key)
            problem = label_key_problem(str(key))
            if problem:
                yield ig_issue(file_name, IG_NODE_LABELS, where,
                               f"node label key {key!r} {problem}", at_key=True)
            # non-strings are the schema check's finding
            problem = label_value_problem(value) if isinstance(value, str) else None
            if problem:
                yield ig_issue(file_name, IG_NODE_LABELS, where,
                               f"node label {key!r}: value {value!r} {problem}")


def check_cloud_labels(view: ClusterView) -> Iterator[Issue]:
    for file_name, ig in sorted(view.igs.items()):
        yield from _cloud_labels(file_name, ig)


def _cloud_labels(file_name: str, ig: dict[str, Any]) -> Iterator[Issue]:
    name = ig_name(file_name, ig)
    for key, value in as_dict(ig_spec(ig).get("cloudLabels")).items():
        text, where = str(key), ("spec", "cloudLabels", str(key))
        if text == INSTANCE_GROUP_TAG:
            if as_str(value) != name:
                yield ig_issue(file_name, IG_CLOUD_LABELS, where,
                               f"cloud label {text} is {value!r}, but this IG is {name!r};"
                               f" set it to {name!r} or delete it")
        elif text in RESERVED_CLOUD_LABELS or text.startswith(RESERVED_CLOUD_LABEL_PREFIXES):
            yield ig_issue(file_name, IG_CLOUD_LABELS, where,
                           f"cloud label {text!r} is reserved by kops; rename it", at_key=True)


CHECKS = (check_node_labels, check_cloud_labels)
