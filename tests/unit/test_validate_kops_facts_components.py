"""kops' component, hook and add-on rules as data (kops 1.37.0-alpha.1).

Where kops has a unit test for a rule (pkg/apis/kops/validation/validation_test.go at tag
v1.37.0-alpha.1) its cases are copied here and the test is named; where it has none
(hooks, file assets, removed kubelet flags, the add-on prerequisites) the cases come from the
function's code and say so. The verdict is kops' at store write (``kops create -f``,
``kops replace -f``): "error" exactly where kops refuses. Each value is set on a real fixture
cluster, as a user writes it in v1alpha2.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kops_gitsync.validate import Finding
from tests.unit.validate_helpers import cluster_docs, findings

KOPS = "v1.37.0-alpha.1"


def _errors(docs: dict[str, Any], rule: str, store: str = "minimal-aws") -> list[Finding]:
    return [f for f in findings(docs, store) if f.severity == "error" and f.rule == rule]


def _fields(found: list[Finding]) -> list[str]:
    """The kops field each error names (``spec.kubeAPIServer.authorizationMode``)."""
    return sorted({f.message.split(": ", 1)[0] for f in found})


# validation_test.go TestValidateKubeAPIServer: (kubeAPIServer, on AWS with RBAC, kops fields)
API = "spec.kubeAPIServer"
KUBE_API_SERVER_FACTS: list[tuple[dict[str, Any], bool, list[str]]] = [
    ({"proxyClientCertFile": "foobar"}, False, [API]),
    ({"proxyClientKeyFile": "foobar"}, False, [API]),
    ({"serviceNodePortRange": "foobar"}, False, [f"{API}.serviceNodePortRange"]),
    ({"authorizationMode": "RBAC,Webhook"}, False, [f"{API}.authorizationWebhookConfigFile"]),
    ({"authorizationMode": "RBAC"}, True, [f"{API}.authorizationMode"]),
    ({"authorizationMode": "RBAC,Node"}, True, []),
    ({"authorizationMode": "RBAC,Node,Bogus"}, True, [f"{API}.authorizationMode"]),
    ({"authenticationConfigFile": "/foo/bar", "oidcClientID": "foo"}, False,
     [f"{API}.authenticationConfigFile"]),
    # from validateKubeAPIServer's code (no kops test case)
    ({"authenticationConfigFile": "/foo/bar"}, False, []),
    ({"proxyClientCertFile": "a", "proxyClientKeyFile": "b"}, False, []),
    ({"enableBootstrapTokenAuth": True}, False, [f"{API}.enableBootstrapTokenAuth"]),
    ({"enableBootstrapTokenAuth": False}, False, []),
    ({"admissionControl": ["NodeRestriction"]}, False, [f"{API}.admissionControl"]),
    ({"enableAdmissionPlugins": ["PodSecurityPolicy"]}, False,
     [f"{API}.enableAdmissionPlugins"]),
    ({"enableAdmissionPlugins": ["NodeRestriction"]}, False, []),
    ({"auditWebhookConfigFile": "/srv/kubernetes/hook.yaml"}, False,
     [f"{API}.auditWebhookConfigFile"]),
    ({"auditWebhookConfigFile": "/srv/a/hook.yaml", "auditPolicyFile": "/srv/b/policy.yaml"},
     False, [f"{API}.auditWebhookConfigFile"]),
    ({"auditWebhookConfigFile": "/srv/a/hook.yaml", "auditPolicyFile": "/srv/a/policy.yaml"},
     False, []),
    ({"serviceClusterIPRange": "10.0.0.0/16"}, False, [f"{API}.serviceClusterIPRange"]),
    ({"authorizationMode": "Node,RBAC,Webhook", "authorizationWebhookConfigFile": "/w"}, True,
     []),
]


@pytest.mark.parametrize(("api", "aws", "refused"), KUBE_API_SERVER_FACTS)
def test_kube_api_server(api: dict[str, Any], aws: bool, refused: list[str]) -> None:
    store = "minimal-aws" if aws else "minimal_gce"
    docs = cluster_docs(store)
    docs["config"]["spec"]["authorization"] = {"rbac": {}}
    docs["config"]["spec"]["kubeAPIServer"] = api
    assert _fields(_errors(docs, "kube-apiserver-flags", store)) == refused


def test_authorization_modes_are_not_judged_with_always_allow() -> None:
    """kops checks the mode list only with RBAC (the v1alpha2 default when neither is set)."""
    docs = cluster_docs()
    docs["config"]["spec"]["authorization"] = {"alwaysAllow": {}}
    docs["config"]["spec"]["kubeAPIServer"] = {"authorizationMode": "AlwaysAllow"}
    assert _errors(docs, "kube-apiserver-flags") == []
    del docs["config"]["spec"]["authorization"]
    assert _fields(_errors(docs, "kube-apiserver-flags")) == [f"{API}.authorizationMode"]


# apimachinery PortRange.Set, which validateKubeAPIServer calls on serviceNodePortRange
@pytest.mark.parametrize(("ports", "refused"), [
    ("30000-32767", False), ("30000+2767", False), ("30000", False), ("", False),
    ("foobar", True), ("30000-", True), ("1-2+3", True), ("30000-70000", True),
    ("32767-30000", True),
])
def test_service_node_port_range(ports: str, refused: bool) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["kubeAPIServer"] = {"serviceNodePortRange": ports}
    assert bool(_errors(docs, "kube-apiserver-flags")) == refused


# validation_test.go TestValidateKubeControllermanager; validateKubeScheduler and
# validateKubeProxy from their code
@pytest.mark.parametrize(("component", "settings", "refused"), [
    ("kubeControllerManager", {"experimentalClusterSigningDuration": "1h0m0s"},
     ["spec.kubeControllerManager.experimentalClusterSigningDuration"]),
    ("kubeControllerManager", {"clusterSigningDuration": "1h0m0s"}, []),
    ("kubeScheduler", {"usePolicyConfigMap": True}, ["spec.kubeScheduler.usePolicyConfigMap"]),
    ("kubeProxy", {"ipvsExcludeCIDRs": ["10.0.0.0/8", "10.1.2.3/8"]}, []),
    ("kubeProxy", {"ipvsExcludeCIDRs": ["10.0.0.1"]}, ["spec.kubeProxy.ipvsExcludeCIDRs[0]"]),
    ("kubeProxy", {"master": "https://api.internal.example.com"}, []),
    ("kubeProxy", {"master": "api.internal.example.com:443"}, ["spec.kubeProxy.master"]),
])
def test_other_components(component: str, settings: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    docs["config"]["spec"][component] = settings
    assert _fields(_errors(docs, "component-flags")) == refused


# validateKubelet's code (spec.kubelet; spec.masterKubelet is kops' controlPlaneKubelet)
@pytest.mark.parametrize(("kubelet", "refused"), [
    ({"anonymousAuth": False}, []),
    ({"configureCbr0": True}, ["ConfigureCBR0"]),
    ({"apiServers": "https://x"}, ["apiServers"]),
    ({"requireKubeconfig": True}, ["requireKubeconfig"]),
    ({"networkPluginName": "cni"}, ["networkPluginName"]),
    ({"nonMasqueradeCIDR": "100.64.0.0/10"}, ["nonMasqueradeCIDR"]),
    ({"bootstrapKubeconfig": "/x"}, ["bootstrapKubeconfig"]),
    ({"shutdownGracePeriodCriticalPods": "10s"}, ["shutdownGracePeriodCriticalPods"]),
    ({"shutdownGracePeriod": "30s", "shutdownGracePeriodCriticalPods": "10s"}, []),
    ({"shutdownGracePeriod": "30s", "shutdownGracePeriodCriticalPods": "1m0s"},
     ["shutdownGracePeriodCriticalPods"]),
])
@pytest.mark.parametrize(("yaml_name", "kops_name"),
                         [("kubelet", "kubelet"), ("masterKubelet", "controlPlaneKubelet")])
def test_kubelet(kubelet: dict[str, Any], refused: list[str], yaml_name: str,
                 kops_name: str) -> None:
    docs = cluster_docs()
    docs["config"]["spec"][yaml_name] = kubelet
    assert _fields(_errors(docs, "kubelet-flags")) == [f"spec.{kops_name}.{f}" for f in refused]


# validateHookSpec and validateFileAssetSpec (code; no kops test), on the Cluster and an IG
HOOK_FACTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"name": "a.service", "manifest": "[Service]\nExecStart=/bin/true"}, []),
    ({"name": "a.service", "execContainer": {"image": "busybox"}}, []),
    ({"name": "a.service"}, ["spec.hooks[0]"]),
    ({"name": "a.service", "enabled": False}, []),
    ({"name": "a.service", "execContainer": {}}, ["spec.hooks[0].execContainer.image"]),
    ({"name": "a.service", "useRawManifest": True}, ["spec.hooks[0]"]),
    ({"name": "a.service", "useRawManifest": True, "manifest": "x", "before": ["b.service"]},
     ["spec.hooks[0]"]),
    ({"name": "a.service", "useRawManifest": True, "manifest": "x", "requires": []},
     ["spec.hooks[0]"]),
    ({"name": "a.service", "useRawManifest": True, "manifest": "x"}, []),
    ({"name": "a.service", "useRawManifest": True, "execContainer": {"image": "i"}},
     ["spec.hooks[0]"]),
]


@pytest.mark.parametrize(("hook", "refused"), HOOK_FACTS)
@pytest.mark.parametrize("key", ["config", "instancegroup/nodes"])
def test_hooks(hook: dict[str, Any], refused: list[str], key: str) -> None:
    docs = cluster_docs()
    docs[key]["spec"]["hooks"] = [hook]
    found = [f for f in _errors(docs, "hook-spec") if f.path.endswith(key)]
    assert _fields(found) == refused


@pytest.mark.parametrize(("asset", "refused"), [
    ({"name": "a", "path": "/a", "content": "x"}, []),
    ({"name": "a", "path": "/a"}, ["spec.fileAssets[0].content"]),
    ({"path": "/a", "content": "x"}, ["spec.fileAssets[0].name"]),
    ({"name": "", "path": "/a", "content": ""},
     ["spec.fileAssets[0].content", "spec.fileAssets[0].name"]),
])
@pytest.mark.parametrize("key", ["config", "instancegroup/nodes"])
def test_file_assets(asset: dict[str, Any], refused: list[str], key: str) -> None:
    docs = cluster_docs()
    docs[key]["spec"]["fileAssets"] = [asset]
    found = [f for f in _errors(docs, "file-asset-spec") if f.path.endswith(key)]
    assert _fields(found) == refused


# validation_test.go Test_Validate_NodeLocalDNS. kops runs validateNodeLocalDNS at store
# write only when kubeDNS.serverIP is written (legacy.go), so it is set here.
NODE_LOCAL_DNS_FACTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"kubeProxy": {"proxyMode": "iptables"},
      "kubeDNS": {"provider": "CoreDNS", "nodeLocalDNS": {"enabled": True}}}, []),
    ({"kubelet": {"clusterDNS": "100.64.0.10"}, "kubeProxy": {"proxyMode": "ipvs"},
      "kubeDNS": {"provider": "CoreDNS", "nodeLocalDNS": {"enabled": True}}},
     ["spec.kubelet.clusterDNS"]),
    ({"kubelet": {"clusterDNS": "100.64.0.10"}, "kubeProxy": {"proxyMode": "ipvs"},
      "kubeDNS": {"provider": "CoreDNS", "nodeLocalDNS": {"enabled": True}},
      "networking": {"cilium": {}}}, ["spec.kubelet.clusterDNS"]),
    ({"kubelet": {"clusterDNS": "169.254.20.10"}, "kubeProxy": {"proxyMode": "iptables"},
      "kubeDNS": {"provider": "CoreDNS",
                  "nodeLocalDNS": {"enabled": True, "localIP": "169.254.20.10"}},
      "networking": {"cilium": {}}}, []),
    # legacy.go ValidateCluster (code): provider, localIP, upstream nameservers
    ({"kubeDNS": {"provider": "KubeDNS", "nodeLocalDNS": {"enabled": True}}},
     ["spec.kubeDNS.provider"]),
    ({"kubeDNS": {"nodeLocalDNS": {"enabled": True, "localIP": "nope"}}},
     ["spec.kubeDNS.nodeLocalDNS.localIP"]),
    ({"kubeDNS": {"upstreamNameservers": ["1.1.1.1", "dns.example.com"]}},
     ["spec.kubeDNS.upstreamNameservers[1]"]),
]


@pytest.mark.parametrize(("spec", "refused"), NODE_LOCAL_DNS_FACTS)
def test_node_local_dns(spec: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    spec = copy.deepcopy(spec)
    spec["kubeDNS"]["serverIP"] = "100.64.0.10"
    docs["config"]["spec"].update(spec)
    assert _fields(_errors(docs, "kube-dns-settings")) == refused


def test_node_local_dns_is_not_judged_without_a_server_ip() -> None:
    docs = cluster_docs()
    docs["config"]["spec"].update(copy.deepcopy(NODE_LOCAL_DNS_FACTS[1][0]))
    assert _errors(docs, "kube-dns-settings") == []


# validateClusterSpec / validateCertManager / validateMetricsServer / ... (code; no kops test)
EXTERNAL = {"useServiceAccountExternalPermissions": True}
ADDON_FACTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"karpenter": {"enabled": True}}, ["spec.karpenter.enabled"]),
    ({"karpenter": {"enabled": True}, "iam": EXTERNAL}, []),
    ({"certManager": {"enabled": True, "hostedZoneIDs": ["Z1"]}}, ["spec.certManager"]),
    ({"certManager": {"enabled": True, "hostedZoneIDs": ["Z1"]}, "iam": EXTERNAL}, []),
    ({"certManager": {"enabled": False, "hostedZoneIDs": ["Z1"]}}, []),
    ({"metricsServer": {"enabled": True}}, ["spec.metricsServer.insecure"]),
    ({"metricsServer": {"enabled": True, "insecure": True}}, []),
    ({"metricsServer": {"enabled": True}, "certManager": {"enabled": True}}, []),
    ({"snapshotController": {"enabled": True}}, ["spec.snapshotController.enabled"]),
    ({"awsLoadBalancerController": {"enabled": True}},
     ["spec.cloudProvider.aws.awsLoadBalanceController"]),
    ({"podIdentityWebhook": {"enabled": True}}, ["spec.cloudProvider.aws.podIdentityWebhook"]),
    ({"nodeTerminationHandler": {"enabled": True}, "karpenter": {"enabled": True},
      "iam": EXTERNAL}, ["spec.cloudProvider.aws.nodeTerminationHandler"]),
    ({"nodeTerminationHandler": {"enabled": False}, "karpenter": {"enabled": True},
      "iam": EXTERNAL}, []),
]


@pytest.mark.parametrize(("spec", "refused"), ADDON_FACTS)
def test_addon_prerequisites(spec: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    docs["config"]["spec"].update(copy.deepcopy(spec))
    assert _fields(_errors(docs, "addon-dependency")) == refused


@pytest.mark.parametrize(("spec", "refused"), [
    ({"clusterAutoscaler": {"expander": "price"}}, ["spec.clusterAutoscaler.expander"]),
    ({"clusterAutoscaler": {"expander": "least-waste"}}, []),
    ({"externalDns": {"watchNamespace": "default"}}, ["spec.externalDNS.watchNamespace"]),
    ({"externalDns": {"watchNamespace": "kube-system"}}, []),
    ({"externalDns": {"provider": "external-dns"}, "topology": {"dns": {"type": "None"}}},
     ["spec.externalDNS.provider"]),
    ({"externalDns": {"provider": "external-dns"}}, []),
    ({"warmPool": {"minSize": 3, "maxSize": 2}}, ["spec.cloudProvider.aws.warmPool.maxSize"]),
    ({"warmPool": {"minSize": -1}}, ["spec.cloudProvider.aws.warmPool.minSize"]),
    ({"warmPool": {"minSize": 1, "maxSize": 2}}, []),
    ({"nodeTerminationHandler": {"enabled": True, "enableSpotInterruptionDraining": False}},
     ["spec.cloudProvider.aws.nodeTerminationHandler.enableSpotInterruptionDraining"]),
    ({"nodeTerminationHandler": {"enabled": True, "enableSQSTerminationDraining": False,
                                 "enableSpotInterruptionDraining": False}}, []),
])
def test_addon_settings(spec: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    docs["config"]["spec"].update(copy.deepcopy(spec))
    assert _fields(_errors(docs, "addon-settings")) == refused


def test_price_expander_is_accepted_on_gce() -> None:
    docs = cluster_docs("minimal_gce")
    docs["config"]["spec"]["clusterAutoscaler"] = {"expander": "price"}
    assert _errors(docs, "addon-settings", "minimal_gce") == []


# validateWarmPool (code, kops 1.35+): images are pulled per IG, not for the cluster's pool
@pytest.mark.parametrize(("pool", "refused"), [
    ({"maxSize": 2, "additionalImages": ["nginx"]},
     ["spec.cloudProvider.aws.warmPool.additionalImages"]),
    ({"additionalImages": ["nginx"]}, []),
])
def test_cluster_warm_pool_images(pool: dict[str, Any], refused: list[str]) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["warmPool"] = pool
    assert _fields(_errors(docs, "addon-settings")) == refused


# validateCloudConfiguration (code): only OpenStack has block storage classes to disagree
def test_openstack_storage_classes_must_agree() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["cloudConfig"] = {
        "manageStorageClasses": False, "openstack": {"blockStorage": {"createStorageClass": True}}}
    assert _errors(docs, "addon-settings") == []
    docs["config"]["spec"]["cloudProvider"] = "openstack"
    assert _fields(_errors(docs, "addon-settings")) == ["spec.cloudConfig.manageStorageClasses"]
