"""kops' add-on and DNS cross-field rules that refuse at store write.

From validation.go (``validateClusterSpec``, ``validateAWS``, ``validateCertManager``,
``validateMetricsServer``, ``validateSnapshotController``, ``validateNodeTerminationHandler``,
``validateAWSLoadBalancerController``, ``validatePodIdentityWebhook``, ``validateWarmPool``,
``validateClusterAutoscaler``, ``validateExternalDNS``) and legacy.go (``ValidateCluster``:
the kubeDNS upstream nameservers, and, only when ``kubeDNS.serverIP`` is written, the kubelet
clusterDNS and NodeLocal DNS checks with ``validateNodeLocalDNS``).

Two families: add-ons that need another one (Karpenter and cert-manager's dns-01 need
``iam.useServiceAccountExternalPermissions``; a secure metrics-server, the snapshot
controller, the AWS Load Balancer Controller and the pod identity webhook need
cert-manager), and settings that cannot work together (price expander off GCE, external-dns
without DNS, a NodeLocal DNS IP the kubelets do not use, OpenStack storage classes managed
and not, cluster warm pool images (kops 1.35+) when a maxSize is set). kops validates its internal
types: the AWS add-ons it names under ``spec.cloudProvider.aws`` are top-level fields in
v1alpha2, and it spells ``awsLoadBalanceController``; messages keep kops' path and words.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import (
    ClusterView,
    Requirement,
    any_of,
    as_dict,
    as_list,
    cluster_issue,
    negate,
    spec_on,
    unmet,
    value_at,
)
from kops_gitsync.validate.rules.catalog import rule
from kops_gitsync.validate.rules.names import is_gossip_name

_V = "pkg/apis/kops/validation/validation.go"
_AWS = "spec.cloudProvider.aws"

ADDON_DEPENDENCY = rule(
    "addon-dependency",
    "kops refuses an add-on whose prerequisite is off: Karpenter and cert-manager's dns-01"
    " need service accounts with external permissions; a secure metrics-server, the snapshot"
    " controller, the AWS Load Balancer Controller and the pod identity webhook need"
    " cert-manager; the node termination handler excludes Karpenter",
    "turn on the prerequisite the message names (iam.useServiceAccountExternalPermissions,"
    " certManager.enabled) or turn the add-on off",
    f"{_V}: validateClusterSpec, validateAWS, validateCertManager, validateMetricsServer,"
    " validateSnapshotController, validateNodeTerminationHandler")
ADDON_SETTINGS = rule(
    "addon-settings",
    "kops refuses add-on settings that cannot work: the price expander off GCE, the cluster"
    " autoscaler on OpenStack, external-dns without DNS, warm pool sizes out of order,"
    " queue-mode node termination handler options",
    "apply the change the message names",
    f"{_V}: validateClusterAutoscaler, validateExternalDNS, validateWarmPool,"
    " validateNodeTerminationHandler")
KUBE_DNS = rule(
    "kube-dns-settings",
    "kops refuses upstream nameservers that are not IP addresses and, when kubeDNS.serverIP is"
    " set, NodeLocal DNS settings the kubelets would not use",
    "write IP addresses; with NodeLocal DNS use provider CoreDNS and point kubelet clusterDNS"
    " at nodeLocalDNS.localIP (or leave it unset)",
    "pkg/apis/kops/validation/legacy.go: ValidateCluster; validation.go: validateNodeLocalDNS")


def _on(value: Any) -> bool:
    return value is True


def _ip(text: Any) -> bool:
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True


_EXTERNAL = spec_on("iam.useServiceAccountExternalPermissions")
_CERT_MANAGER = spec_on("certManager.enabled")
DEPENDENCIES = (  # path: from spec
    Requirement("karpenter.enabled", _EXTERNAL,
                "spec.karpenter.enabled: Forbidden: Karpenter requires that service accounts use"
                " external permissions"),
    Requirement("certManager", _EXTERNAL,
                "spec.certManager: Forbidden: Cert Manager requires that service accounts use"
                " external permissions in order to do dns-01 validation",
                when=lambda _, spec: value_at(spec, "certManager.enabled") is True
                and bool(as_list(value_at(spec, "certManager.hostedZoneIDs")))),
    Requirement("metricsServer.enabled", any_of(spec_on("metricsServer.insecure"), _CERT_MANAGER),
                "spec.metricsServer.insecure: Forbidden: Secure metrics server requires that cert"
                " manager is enabled"),
    Requirement("snapshotController.enabled", _CERT_MANAGER,
                "spec.snapshotController.enabled: Forbidden: Snapshot controller requires that"
                " cert manager is enabled"),
)
AWS_DEPENDENCIES = (
    Requirement("nodeTerminationHandler", negate(spec_on("karpenter.enabled")),
                f"{_AWS}.nodeTerminationHandler: Forbidden: nodeTerminationHandler cannot be used"
                " in conjunction with Karpenter",
                when=lambda _, spec: isinstance(spec.get("nodeTerminationHandler"), dict)
                and spec["nodeTerminationHandler"].get("enabled") is not False),
    Requirement("awsLoadBalancerController.enabled", _CERT_MANAGER,
                f"{_AWS}.awsLoadBalanceController: Forbidden: AWS Load Balancer Controller"
                " requires that cert manager is enabled"),
    Requirement("podIdentityWebhook.enabled", _CERT_MANAGER,
                f"{_AWS}.podIdentityWebhook: Forbidden: EKS Pod Identity Webhook requires that"
                " cert manager is enabled"),
)


def _dependencies(view: ClusterView) -> Iterator[tuple[YamlPath, str]]:
    table = DEPENDENCIES + (AWS_DEPENDENCIES if view.cloud == "aws" else ())
    for row in unmet(view, view.spec, table):
        yield ("spec", *row.path.split(".")), row.message


def _settings(view: ClusterView) -> Iterator[tuple[YamlPath, str]]:
    spec = view.spec
    autoscaler = spec.get("clusterAutoscaler")
    if isinstance(autoscaler, dict):
        if autoscaler.get("expander") == "price" and view.cloud != "gce":
            yield ("spec", "clusterAutoscaler", "expander"), (
                "spec.clusterAutoscaler.expander: Forbidden: Cluster autoscaler price expander"
                " is only supported on GCE")
        if view.cloud == "openstack":
            yield ("spec", "clusterAutoscaler"), (
                "spec.clusterAutoscaler: Forbidden: Cluster autoscaler is not supported on"
                " OpenStack")
    dns = as_dict(spec.get("externalDns"))
    if dns.get("watchNamespace") not in (None, "", "kube-system"):
        yield ("spec", "externalDns", "watchNamespace"), (
            "spec.externalDNS.watchNamespace: Forbidden: externalDNS must watch either all"
            " namespaces or only kube-system")
    gossip = is_gossip_name(str(view.metadata.get("name") or "")) and view.dns_type != "None"
    if dns.get("provider") == "external-dns" and (gossip or view.dns_type == "None"):
        yield ("spec", "externalDns", "provider"), (
            "spec.externalDNS.provider: Forbidden: external-dns requires public or private DNS"
            " topology")
    cloud_config = as_dict(spec.get("cloudConfig"))
    manage = cloud_config.get("manageStorageClasses")
    create = as_dict(as_dict(as_dict(cloud_config.get("openstack")).get("blockStorage"))).get(
        "createStorageClass")
    if view.cloud == "openstack" and isinstance(manage, bool) and isinstance(create, bool) \
            and manage != create:
        yield ("spec", "cloudConfig", "manageStorageClasses"), (
            "spec.cloudConfig.manageStorageClasses: Forbidden: Management of storage classes and"
            " OpenStack block storage classes are both specified but disagree")
    if view.cloud != "aws":
        return
    yield from _aws_settings(spec, view.kops_at_least("1.35"))


def _aws_settings(spec: dict[str, Any], kops_1_35: bool) -> Iterator[tuple[YamlPath, str]]:
    pool = spec.get("warmPool")
    if isinstance(pool, dict):
        low, high = pool.get("minSize"), pool.get("maxSize")
        low = low if isinstance(low, int) else 0
        if isinstance(high, int) and high < 0:
            yield ("spec", "warmPool", "maxSize"), (
                f"{_AWS}.warmPool.maxSize: Invalid value: {high}: warm pool maxSize cannot be"
                " negative")
        elif isinstance(high, int) and low > high:
            yield ("spec", "warmPool", "maxSize"), (
                f"{_AWS}.warmPool.maxSize: Invalid value: {high}: warm pool maxSize cannot be"
                " set to lower than minSize")
        elif isinstance(high, int) and kops_1_35 and as_list(pool.get("additionalImages")):
            yield ("spec", "warmPool", "additionalImages"), (
                f"{_AWS}.warmPool.additionalImages: Forbidden: warm pool additional images can"
                " only be set in the instance group spec")
        if low < 0:
            yield ("spec", "warmPool", "minSize"), (
                f"{_AWS}.warmPool.minSize: Invalid value: {low}: warm pool minSize cannot be"
                " negative")
    handler = as_dict(spec.get("nodeTerminationHandler"))
    queue = _on(handler.get("enabled")) and handler.get("enableSQSTerminationDraining") in (
        None, True)
    path = f"{_AWS}.nodeTerminationHandler"
    if queue and handler.get("enableSpotInterruptionDraining") is False:
        yield ("spec", "nodeTerminationHandler", "enableSpotInterruptionDraining"), (
            f"{path}.enableSpotInterruptionDraining: Forbidden: spot interruption draining"
            " cannot be disabled in Queue Processor mode")
    if queue and not _on(handler.get("enableRebalanceDraining")) and _on(
            handler.get("enableRebalanceMonitoring")):
        yield ("spec", "nodeTerminationHandler", "enableRebalanceMonitoring"), (
            f"{path}.enableRebalanceMonitoring: Forbidden: rebalance events can only drain in"
            " Queue Processor mode")


def _kube_dns(view: ClusterView) -> Iterator[tuple[YamlPath, str]]:
    spec = view.spec
    kube_dns = spec.get("kubeDNS")
    if not isinstance(kube_dns, dict):
        return
    server_ip = kube_dns.get("serverIP")
    if server_ip and _ip(server_ip):
        yield from _cluster_dns(spec, kube_dns, str(server_ip))
    for index, server in enumerate(as_list(kube_dns.get("upstreamNameservers"))):
        if not _ip(server):
            yield ("spec", "kubeDNS", "upstreamNameservers", index), (
                f'spec.kubeDNS.upstreamNameservers[{index}]: Invalid value: "{server}": Invalid'
                " nameserver given, should be a valid ip address")


def _cluster_dns(spec: dict[str, Any], kube_dns: dict[str, Any],
                 server_ip: str) -> Iterator[tuple[YamlPath, str]]:
    local = kube_dns.get("nodeLocalDNS")
    local_ip = str(as_dict(local).get("localIP") or "")
    kubelets = (("kubelet", "kubelet", "Kubelet"),
                ("masterKubelet", "controlPlaneKubelet", "ControlPlaneKubelet"))
    for yaml_name, kops_name, words in kubelets:
        kubelet = spec.get(yaml_name)
        cluster_dns = str(as_dict(kubelet).get("clusterDNS") or "")
        if (isinstance(kubelet, dict) and cluster_dns != server_ip and local is not None
                and cluster_dns != local_ip):
            yield ("spec", yaml_name, "clusterDNS"), (
                f"spec.{kops_name}.clusterDNS: Forbidden: {words} ClusterDNS did not match"
                " cluster kubeDNS.serverIP or nodeLocalDNS.localIP")
    if not _on(as_dict(local).get("enabled")):
        return
    if kube_dns.get("provider") not in (None, "", "CoreDNS"):
        yield ("spec", "kubeDNS", "provider"), (
            "spec.kubeDNS.provider: Forbidden: KubeDNS provider must be set to CoreDNS if"
            " NodeLocalDNS addon is enabled")
    if local_ip and not _ip(local_ip):
        yield ("spec", "kubeDNS", "nodeLocalDNS", "localIP"), (
            f'spec.kubeDNS.nodeLocalDNS.localIP: Invalid value: "{local_ip}": Cluster had an'
            " invalid kubeDNS.nodeLocalDNS.localIP")
    ipvs = as_dict(spec.get("kubeProxy")).get("proxyMode") == "ipvs"
    if ipvs or "cilium" in as_dict(spec.get("networking")):
        for yaml_name, _, words in kubelets:
            cluster_dns = str(as_dict(spec.get(yaml_name)).get("clusterDNS") or "")
            if cluster_dns and cluster_dns != local_ip:
                yield ("spec", yaml_name, "clusterDNS"), (
                    f"spec.kubelet.clusterDNS: Forbidden: {words} ClusterDNS must be set to the"
                    " default IP address for LocalIP")


def check_addons(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    for rule_id, found in ((ADDON_DEPENDENCY, _dependencies(view)),
                           (ADDON_SETTINGS, _settings(view)), (KUBE_DNS, _kube_dns(view))):
        for path, message in found:
            yield cluster_issue(rule_id, path, message, at_key=True)


CHECKS = (check_addons,)
