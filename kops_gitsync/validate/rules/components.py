"""kops' checks of the Kubernetes component settings (validation.go) at store write.

``validateKubeAPIServer``, ``validateKubeControllerManager``, ``validateKubeScheduler``,
``validateKubeProxy`` and ``validateKubelet`` (on ``spec.kubelet`` and on
``spec.masterKubelet``, which kops calls ``controlPlaneKubelet``) refuse flag combinations
the components would refuse or that kops removed: a proxy client cert without its key, an
unparsable node port range, Webhook authorization without its config file, an
authorization mode list without Node and RBAC on AWS, removed kubelet flags, ... Each is an
error with kops' path and words. The ``logFormat``-style closed sets are in enums.py.

kops validates its internal types after converting v1alpha2: the ``kubeAPIServer.oidc*``
fields are ``spec.authentication.oidc`` there, and an empty ``authorization`` is RBAC
(v1alpha2 defaulting), both reproduced here. The kubelet ``podInfraContainerImage`` and
``crashLoopBackOffMaxContainerRestartPeriod`` checks arrived in kops 1.35 and apply only
when the cluster's kops-version.txt names 1.35 or later (or is absent).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, cluster_issue, go_cidr
from kops_gitsync.validate.rules.catalog import rule
from kops_gitsync.validate.rules.instancegroups import go_duration_seconds

_V = "pkg/apis/kops/validation/validation.go"
_GO_INT = re.compile(r"[+-]?[0-9]+")
OIDC_FIELDS = ("oidcUsernameClaim", "oidcUsernamePrefix", "oidcGroupsClaim", "oidcGroupsPrefix",
               "oidcIssuerURL", "oidcClientID", "oidcRequiredClaim")
AUTHORIZATION_MODES = ("ABAC", "Webhook", "Node", "RBAC", "AlwaysAllow", "AlwaysDeny")
# kubelet fields kops forbids: v1alpha2 name -> (the name kops prints, kops' words)
REMOVED_KUBELET_FIELDS = {
    "configureCbr0": ("ConfigureCBR0", "configure-cbr0 flag was removed in 1.5"),
    "apiServers": ("apiServers", "api-servers flag was removed in 1.6"),
    "requireKubeconfig": ("requireKubeconfig", "require-kubeconfig flag was removed in 1.10. "
                          " (Please be sure you are not using a cluster config from `kops get"
                          " cluster --full`)"),
    "experimentalAllowedUnsafeSysctls": (
        "experimentalAllowedUnsafeSysctls", "experimentalAllowedUnsafeSysctls was renamed in"
        " k8s 1.11; please use allowedUnsafeSysctls instead"),
    "bootstrapKubeconfig": ("bootstrapKubeconfig", "bootstrap tokens are not supported"),
    "enableCadvisorJsonEndpoints": ("enableCadvisorJsonEndpoints",
                                    "enableCadvisorJsonEndpoints requires Kubernetes 1.18-1.20"),
    "cpuCFSQuotaPeriod": ("cpuCFSQuotaPeriod",
                          "cpuCFSQuotaPeriod has been removed on Kubernetes >=1.20"),
    "networkPluginName": ("networkPluginName",
                          "networkPluginName has been removed on Kubernetes >=1.24"),
    "networkPluginMTU": ("networkPluginMTU",
                         "networkPluginMTU has been removed on Kubernetes >=1.24"),
    "nonMasqueradeCIDR": ("nonMasqueradeCIDR",
                          "nonMasqueradeCIDR has been removed on Kubernetes >=1.24"),
}

KUBE_API_SERVER = rule(
    "kube-apiserver-flags",
    "kops refuses kubeAPIServer settings that conflict or that the API server no longer has",
    "apply the change the message names (pair the proxy client files, give Webhook its config"
    " file, include Node and RBAC on AWS, ...)", f"{_V}: validateKubeAPIServer")
KUBELET = rule(
    "kubelet-flags", "kops refuses kubelet flags Kubernetes removed and inconsistent shutdown"
    " grace periods", "delete the removed flag (or use its replacement the message names)",
    f"{_V}: validateKubelet")
COMPONENT_FLAGS = rule(
    "component-flags",
    "kops refuses removed kube-controller-manager and kube-scheduler flags and a kubeProxy"
    " with a bad ipvsExcludeCIDRs entry or master URL",
    "apply the replacement the message names, or fix the CIDR/URL",
    f"{_V}: validateKubeControllerManager, validateKubeScheduler, validateKubeProxy")


def _set(value: Any) -> bool:
    """A Go pointer or slice that decoded as set (an empty list counts, null does not)."""
    return value is not None


def port_range_error(value: str) -> str | None:
    """apimachinery ``PortRange.Set``: why kops cannot parse ``value``, or None."""
    value = value.strip()
    if not value:
        return None
    hyphen, plus = value.find("-"), value.find("+")
    if hyphen != -1 and plus != -1:
        return f"unable to parse port range: {value}"
    sep = hyphen if hyphen != -1 else plus
    parts = [value] if sep == -1 else [value[:sep], value[sep + 1:]]
    for part in parts:
        if not _GO_INT.fullmatch(part):
            return f'strconv.Atoi: parsing "{part}": invalid syntax'
    low = int(parts[0])
    high = low if sep == -1 else (int(parts[1]) if hyphen != -1 else low + int(parts[1]))
    if low > 65535 or high > 65535:
        return f"the port range cannot be greater than 65535: {value}"
    if high < low:
        return f"end port cannot be less than start port: {value}"
    return None



def _go_dir(path: str) -> str:
    """Go's ``filepath.Dir``: everything before the last slash, cleaned ('.' when empty)."""
    return posixpath.normpath(path[: path.rfind("/") + 1]) if "/" in path else "."


def _api_server(view: ClusterView) -> Iterator[tuple[str, str]]:
    api = as_dict(view.spec.get("kubeAPIServer"))
    if api.get("authenticationConfigFile") and any(_set(api.get(f)) for f in OIDC_FIELDS):
        yield "authenticationConfigFile", ("Forbidden: authenticationConfigFile is mutually"
                                           " exclusive with OIDC options, remove all existing"
                                           " OIDC options to use authenticationConfigFile")
    if api.get("enableBootstrapTokenAuth") is True:
        yield "enableBootstrapTokenAuth", "Forbidden: bootstrap tokens are not supported"
    admission = as_list(api.get("admissionControl"))
    if admission:
        if as_list(api.get("disableAdmissionPlugins")):
            yield "admissionControl", ("Forbidden: admissionControl is mutually exclusive with"
                                       " disableAdmissionPlugins")
        yield "admissionControl", ("Forbidden: admissionControl has been replaced with"
                                   " enableAdmissionPlugins")
    for field in ("enableAdmissionPlugins", "admissionControl"):
        if "PodSecurityPolicy" in as_list(api.get(field)):
            yield field, "Forbidden: PodSecurityPolicy has been removed from Kubernetes 1.25"
    if _set(api.get("proxyClientCertFile")) != _set(api.get("proxyClientKeyFile")):
        yield "", ("Forbidden: proxyClientCertFile and proxyClientKeyFile must both be specified"
                   " (or neither)")
    ports = api.get("serviceNodePortRange")
    if isinstance(ports, str) and (error := port_range_error(ports)):
        yield "serviceNodePortRange", f'Invalid value: "{ports}": {error}'
    yield from _authorization(view, api)
    policy, webhook = str(api.get("auditPolicyFile") or ""), str(api.get("auditWebhookConfigFile")
                                                                  or "")
    if webhook and not policy:
        yield "auditWebhookConfigFile", (f'Invalid value: "{webhook}": an audit policy is'
                                         " required for the audit webhook config")
    if webhook and policy and _go_dir(policy) != _go_dir(webhook):
        yield "auditWebhookConfigFile", (f'Invalid value: "{webhook}": the audit webhook config'
                                         " must be placed in the same directory as the audit"
                                         " policy")
    own_range = api.get("serviceClusterIPRange")
    if own_range and own_range != (view.spec.get("serviceClusterIPRange") or ""):
        yield "serviceClusterIPRange", ("Forbidden: kubeAPIServer serviceClusterIPRange did not"
                                        " match cluster serviceClusterIPRange")


def _authorization(view: ClusterView, api: dict[str, Any]) -> Iterator[tuple[str, str]]:
    mode = api.get("authorizationMode")
    if not isinstance(mode, str):
        return
    if "Webhook" in mode and not _set(api.get("authorizationWebhookConfigFile")):
        yield "authorizationWebhookConfigFile", ("Required value: Authorization mode Webhook"
                                                 " requires authorizationWebhookConfigFile to be"
                                                 " specified")
    authorization = as_dict(view.spec.get("authorization"))
    # v1alpha2 defaulting: an authorization with neither mode set becomes RBAC
    if not _set(authorization.get("rbac")) and _set(authorization.get("alwaysAllow")):
        return
    modes = mode.split(",")
    for other in modes:
        if other not in AUTHORIZATION_MODES:
            listed = ", ".join(f'"{m}"' for m in AUTHORIZATION_MODES)
            yield "authorizationMode", f'Unsupported value: "{other}": supported values: {listed}'
    if view.cloud == "aws" and not ("Node" in modes and "RBAC" in modes):
        yield "authorizationMode", ("Required value: As of kubernetes 1.19 on AWS,"
                                    " authorizationMode must include RBAC and Node")


def _kubelet(kubelet: dict[str, Any], kops_1_35: bool) -> Iterator[tuple[str, str, str]]:
    """(v1alpha2 field, the field kops names, kops' "Type: detail")."""
    for field, (shown, words) in REMOVED_KUBELET_FIELDS.items():
        if _set(kubelet.get(field)) and kubelet.get(field) != "":
            yield field, shown, f"Forbidden: {words}"
    if kops_1_35 and kubelet.get("podInfraContainerImage"):
        yield "podInfraContainerImage", "podInfraContainerImage", (
            "Forbidden: pod-infra-container-image flag was deprecated in 1.24 and removed in"
            " 1.35, use containerd.sandboxImage instead")
    restart = kubelet.get("crashLoopBackOffMaxContainerRestartPeriod")
    if kops_1_35 and _set(restart):
        seconds = go_duration_seconds(str(restart))
        if seconds is None or not 1 <= seconds <= 300:
            yield "crashLoopBackOffMaxContainerRestartPeriod", \
                "crashLoopBackOffMaxContainerRestartPeriod", (
                    f'Invalid value: "{restart}": crashLoopBackOffMaxContainerRestartPeriod must'
                    " be a value between 1s and 300s")
    critical = kubelet.get("shutdownGracePeriodCriticalPods")
    if _set(critical):
        grace = kubelet.get("shutdownGracePeriod")
        critical_s = go_duration_seconds(str(critical))
        grace_s = go_duration_seconds(str(grace)) if _set(grace) else None
        if not _set(grace):
            yield "shutdownGracePeriodCriticalPods", "shutdownGracePeriodCriticalPods", (
                "Forbidden: shutdownGracePeriodCriticalPods require shutdownGracePeriod")
        elif grace_s is not None and critical_s is not None and grace_s < critical_s:
            yield "shutdownGracePeriodCriticalPods", "shutdownGracePeriodCriticalPods", (
                f'Invalid value: "{critical}": shutdownGracePeriodCriticalPods cannot be'
                " greater than shutdownGracePeriod")


def _components(view: ClusterView) -> Iterator[tuple[str, str, str]]:
    """(v1alpha2 top-level field, sub-field, kops' "Type: detail") for the small components."""
    if _set(as_dict(view.spec.get("kubeControllerManager")).get(
            "experimentalClusterSigningDuration")):
        yield "kubeControllerManager", "experimentalClusterSigningDuration", (
            "Forbidden: experimentalClusterSigningDuration has been replaced with"
            " clusterSigningDuration as of kubernetes 1.25")
    if _set(as_dict(view.spec.get("kubeScheduler")).get("usePolicyConfigMap")):
        yield "kubeScheduler", "usePolicyConfigMap", (
            "Forbidden: usePolicyConfigMap is deprecated, use KubeSchedulerConfiguration")
    proxy = as_dict(view.spec.get("kubeProxy"))
    for index, cidr in enumerate(as_list(proxy.get("ipvsExcludeCIDRs"))):
        if not go_cidr(str(cidr)):
            yield "kubeProxy", f"ipvsExcludeCIDRs[{index}]", (
                f'Invalid value: "{cidr}": Invalid network CIDR')
    master = proxy.get("master")
    if isinstance(master, str) and master:
        parts = urlsplit(master) if "://" in master else None
        if parts is None or not parts.scheme or not parts.netloc:
            yield "kubeProxy", "master", f'Invalid value: "{master}": Not a valid APIServer URL'


def check_components(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    for field, words in _api_server(view):
        path = ("spec", "kubeAPIServer", field) if field else ("spec", "kubeAPIServer")
        shown = "spec.kubeAPIServer" + (f".{field}" if field else "")
        yield cluster_issue(KUBE_API_SERVER, path, f"{shown}: {words}", at_key=True)
    for yaml_name, kops_name in (("kubelet", "kubelet"), ("masterKubelet", "controlPlaneKubelet")):
        kubelet = view.spec.get(yaml_name)
        if isinstance(kubelet, dict):
            for field, shown, words in _kubelet(kubelet, view.kops_at_least("1.35")):
                yield cluster_issue(KUBELET, ("spec", yaml_name, field),
                                    f"spec.{kops_name}.{shown}: {words}", at_key=True)
    for top, field, words in _components(view):
        index = re.fullmatch(r"(\w+)\[(\d+)\]", field)
        where: YamlPath = (("spec", top, index.group(1), int(index.group(2))) if index
                           else ("spec", top, field))
        yield cluster_issue(COMPONENT_FLAGS, where, f"spec.{top}.{field}: {words}", at_key=True)


CHECKS = (check_components,)
