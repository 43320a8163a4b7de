"""kops' ``awsValidateCluster`` (aws.go) beyond the load balancer class, at store write.

On AWS, kops refuses an API load balancer it cannot build: an internal NLB used for the
internal API (no hairpinning), an ``sslCertificate`` or ``sslPolicy`` without a Network
load balancer (and a policy without a certificate), DNS ``None`` without a Network load
balancer, a security group override or additional group that is not an ``sg-`` id (or is
given twice), load balancer subnets that are not the cluster's, private IPv4 addresses
outside their subnet or on anything but an internal NLB, allocation IDs on anything but a
public NLB. It also refuses turning the EBS CSI driver off, an ``nlbSecurityGroupMode``
other than ``Managed`` (kops 1.36+), and aws-iam-authenticator identity mappings without
the CRD backend or with an ARN that is not an IAM role or user. kops validates its internal
paths (``spec.cloudProvider.aws.*`` for v1alpha2's ``spec.cloudConfig.*``); messages keep
them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.awsig import security_group_problems
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

_AWS = "pkg/apis/kops/validation/aws.go"
LB = "spec.api.loadBalancer"

AWS_CLUSTER = rule(
    "aws-cluster",
    "on AWS kops refuses an API load balancer it cannot build (TLS or DNS None without an"
    " NLB, bad security groups or subnets), a disabled EBS CSI driver, and IAM authenticator"
    " mappings it cannot apply",
    "apply the change the message names (often: set api.loadBalancer.class: Network)",
    f"{_AWS}: awsValidateCluster and the awsValidate* helpers it calls")


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped
    return address


def _load_balancer(view: ClusterView, lb: dict[str, Any]) -> Iterator[tuple[YamlPath, str]]:
    here: YamlPath = ("spec", "api", "loadBalancer")
    nlb, kind = lb.get("class") == "Network", lb.get("type")
    if view.dns_type == "None" and not nlb:
        yield (*here, "type"), (f"{LB}.type: Forbidden: topology.dns.type=none requires Network"
                                " Load Balancer")
    override = lb.get("securityGroupOverride")
    if override is not None:
        text = str(override)
        if not text.strip():
            yield (*here, "securityGroupOverride"), (
                f'{LB}.securityGroupOverride: Invalid value: "{text}": security group override'
                " cannot be empty, if specified")
        elif not text.startswith("sg-"):
            yield (*here, "securityGroupOverride"), (
                f'{LB}.securityGroupOverride: Invalid value: "{text}": security group override'
                " does not match the expected AWS format")
    for index, message in security_group_problems(lb.get("additionalSecurityGroups"),
                                                  f"{LB}.additionalSecurityGroups"):
        yield (*here, "additionalSecurityGroups", index), message
    if nlb and lb.get("useForInternalApi") is True and kind == "Internal":
        yield (*here, "useForInternalApi"), (
            f"{LB}.useForInternalAPI: Forbidden: useForInternalAPI cannot be used with internal"
            " NLB due lack of hairpinning support")
    if lb.get("sslCertificate") and not nlb:
        yield (*here, "sslCertificate"), (
            f"{LB}.sslCertificate: Forbidden: sslCertificate requires a network load balancer."
            " See https://github.com/kubernetes/kops/blob/master/permalinks/acm_nlb.md")
    if lb.get("sslPolicy") is not None:
        if not nlb:
            yield (*here, "sslPolicy"), (f"{LB}.sslPolicy: Forbidden: sslPolicy should be"
                                         " specified with Network Load Balancer")
        if not lb.get("sslCertificate"):
            yield (*here, "sslPolicy"), (f"{LB}.sslPolicy: Forbidden: sslPolicy should not be"
                                         " specified without SSLCertificate")
    yield from _lb_subnets(view, lb, nlb, kind)


def _lb_subnets(view: ClusterView, lb: dict[str, Any], nlb: bool,
                kind: Any) -> Iterator[tuple[YamlPath, str]]:
    cidrs = {as_str(s.get("name")): as_str(s.get("cidr")) for _, s in view.subnets()}
    for index, entry in enumerate(as_list(lb.get("subnets"))):
        subnet = as_dict(entry)
        here: YamlPath = ("spec", "api", "loadBalancer", "subnets", index)
        where = f"{LB}.subnets[{index}]"
        name = as_str(subnet.get("name"))
        if not name:
            yield here, f"{where}.name: Required value: subnet name can't be empty"
        elif name not in cidrs:
            yield here, (f'{where}.name: Not found: "subnet \\"{name}\\" not found in cluster'
                         ' subnets"')
        private = subnet.get("privateIPv4Address")
        if private is not None:
            address = _ipv4(str(private))
            if private == "":
                yield here, f"{where}.privateIPv4Address: Required value: privateIPv4Address" \
                            " can't be empty"
            if address is None:
                yield here, f"{where}.privateIPv4Address: Invalid value: privateIPv4Address is" \
                            " not a valid IPv4 address"
            elif cidrs.get(name):
                try:
                    network = ipaddress.ip_network(cidrs[name], strict=False)
                except ValueError:
                    network = None
                if network is not None and address not in network:
                    yield here, f"{where}.privateIPv4Address: Invalid value: privateIPv4Address" \
                                " is not part of the subnet CIDR"
            if not nlb or kind != "Internal":
                yield here, f"{where}.privateIPv4Address: Forbidden: privateIPv4Address only" \
                            " allowed for internal NLBs"
        allocation = subnet.get("allocationId")
        if allocation is not None:
            if allocation == "":
                yield here, f"{where}.allocationID: Required value: allocationID can't be empty"
            if not nlb or kind == "Internal":
                yield here, f"{where}.allocationID: Forbidden: allocationID only allowed for" \
                            " Public NLBs"


def _cloud_config(view: ClusterView) -> Iterator[tuple[YamlPath, str]]:
    config = as_dict(view.spec.get("cloudConfig"))
    if as_dict(config.get("awsEBSCSIDriver")).get("enabled") is False:
        yield ("spec", "cloudConfig", "awsEBSCSIDriver", "enabled"), (
            "spec.cloudProvider.aws.ebsCSIDriver.enabled: Forbidden: must not be disabled")
    mode = config.get("nlbSecurityGroupMode")
    if mode is not None and mode != "Managed" and view.kops_at_least("1.36"):
        yield ("spec", "cloudConfig", "nlbSecurityGroupMode"), (
            f'spec.cloudProvider.aws.nlbSecurityGroupMode: Unsupported value: "{mode}":'
            ' supported values: "Managed"')
    authenticator = as_dict(as_dict(view.spec.get("authentication")).get("aws"))
    mappings = as_list(authenticator.get("identityMappings"))
    if mappings and "CRD" not in as_str(authenticator.get("backendMode")):
        yield ("spec", "authentication", "aws", "backendMode"), (
            "spec.authentication.aws.backendMode: Forbidden: backendMode must be CRD if"
            " identityMappings is set")
    for index, mapping in enumerate(mappings):
        arn = as_str(as_dict(mapping).get("arn"))
        sections = arn.split(":", 5)
        resource = sections[5] if arn.startswith("arn:") and len(sections) == 6 else ""
        if not resource.startswith(("role/", "user/")):
            yield ("spec", "authentication", "aws", "identityMappings", index, "arn"), (
                f'spec.authentication.aws.identityMappings[{index}].arn: Invalid value: "{arn}":'
                " arn must be a valid IAM Role or User ARN such as"
                " arn:aws:iam::123456789012:role/KopsExampleRole")


def check_aws_cluster(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or view.cloud != "aws":
        return
    lb = as_dict(view.spec.get("api")).get("loadBalancer")
    found = [*(_load_balancer(view, lb) if isinstance(lb, dict) else ()), *_cloud_config(view)]
    for path, message in found:
        yield cluster_issue(AWS_CLUSTER, path, message, at_key=True)


CHECKS = (check_aws_cluster,)
