"""Smaller rules of kops' ``validateClusterSpec`` (validation.go) that refuse at store write.

API load balancer settings that only AWS implements, an Internal load balancer with no
Private subnet to live in, cluster-wide sysctls without ``=``, and ``assets`` naming both a
container proxy and a registry. Messages carry kops' field path and words.
"""

from __future__ import annotations

from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go: validateClusterSpec"
AWS_ONLY_LB_FIELDS = ("class", "idleTimeoutSeconds", "securityGroupOverride",
                      "additionalSecurityGroups", "sslCertificate", "sslPolicy",
                      "crossZoneLoadBalancing", "accessLog")

API_LB_AWS_ONLY = rule(
    "api-lb-aws-only",
    "kops refuses API load balancer settings only AWS implements on other clouds",
    "delete the field, or use it on an AWS cluster", _V)
API_LB_INTERNAL_PRIVATE = rule(
    "api-lb-internal-private",
    "an Internal API load balancer lives in a Private subnet; kops refuses one without",
    "add a Private subnet, or make the load balancer Public", _V)
CLUSTER_SYSCTL = rule(
    "cluster-sysctl", "kops writes cluster sysctls as name=value and refuses one without '='",
    "write each entry as name=value", _V)
ASSETS_PROXY_AND_REGISTRY = rule(
    "assets-proxy-and-registry",
    "kops refuses assets with both containerProxy and containerRegistry",
    "keep one of spec.assets.containerProxy and spec.assets.containerRegistry", _V)


def check_cluster_spec(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    spec = view.spec
    lb_path = ("spec", "api", "loadBalancer")
    lb = as_dict(as_dict(spec.get("api")).get("loadBalancer"))
    if view.cloud != "aws":
        for field in AWS_ONLY_LB_FIELDS:
            if lb.get(field) not in (None, ""):
                yield cluster_issue(API_LB_AWS_ONLY, (*lb_path, field),
                                    f"spec.api.loadBalancer.{field}: Forbidden: {field} is only"
                                    " supported on AWS", at_key=True)
    if lb.get("type") == "Internal" and not any(
            subnet.get("type") == "Private" for _, subnet in view.subnets()):
        yield cluster_issue(API_LB_INTERNAL_PRIVATE, (*lb_path, "type"),
                            "spec.api.loadBalancer.type: Forbidden: Internal LoadBalancers must"
                            " have at least one subnet of type Private")
    for index, entry in enumerate(as_list(spec.get("sysctlParameters"))):
        if "=" not in as_str(entry):
            yield cluster_issue(CLUSTER_SYSCTL, ("spec", "sysctlParameters", index),
                                f"spec.sysctlParameters[{index}]: Invalid value: {entry!r}:"
                                ' must contain a "=" character')
    assets = as_dict(spec.get("assets"))
    if assets.get("containerProxy") is not None and assets.get("containerRegistry") is not None:
        yield cluster_issue(ASSETS_PROXY_AND_REGISTRY, ("spec", "assets", "containerProxy"),
                            "spec.assets.containerProxy: Forbidden: containerProxy cannot be"
                            " used in conjunction with containerRegistry", at_key=True)


CHECKS = (check_cluster_spec,)
