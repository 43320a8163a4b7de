"""Closed value sets kops checks: ``IsValidValue``/``NotSupported`` in pkg/apis/kops/validation.

kops refuses a value outside these sets when it stores the object (``kops create -f``,
``kops replace -f``), so each is an error here, with kops' own field path in the message
(kops validates its internal types, whose paths differ from the v1alpha2 YAML now and then:
``spec.topology.dns.type`` is ``spec.networking.topology.dns.type`` to kops). One table,
one check, so adding the next enumeration is one line. Values are compared exactly, as kops
does; an absent or empty field is not judged (kops skips those, or defaults them first).

``api.loadBalancer.type`` is not checked at store write, but every cloud's model refuses an
unknown type at ``kops update cluster`` ("unhandled LoadBalancer type"), so it is an error
that names that stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kops_gitsync.validate.issues import Issue, YamlPath, dotted
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_list, ig_issue, ig_spec
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"
_IG = "pkg/apis/kops/validation/instancegroup.go"
_AWS = "pkg/apis/kops/validation/aws.go"
ANY = "*"  # every element of a list at this point of the path
# aws.go/gce.go IG checks run only with a cloud (ValidateInstanceGroup(g, cloud, ...)),
# which kops update cluster passes and a store write does not
_UPDATE = "kops update cluster"

ENUM_VALUE = rule(
    "enum-value",
    "kops accepts only its listed values for this field and refuses the object otherwise",
    "use one of the values the message lists (case matters)",
    f"{_V}, {_IG}, {_AWS}: IsValidValue (helpers.go)")


@dataclass(frozen=True)
class Enum:
    path: tuple[str, ...]  # v1alpha2 YAML path; ANY steps into every list element
    values: tuple[str, ...]
    kops_path: str  # the path kops names in its error ("" = same as path)
    source: str
    aws_only: bool = False
    stage: str = "store write"
    empty_ok: bool = True  # False where kops checks a set pointer even when it is ""


CLUSTER_ENUMS = (
    Enum(("spec", "topology", "dns", "type"), ("Public", "Private", "None"),
         "spec.networking.topology.dns.type", f"{_V}: validateTopology"),
    Enum(("spec", "api", "loadBalancer", "class"), ("Classic", "Network"), "",
         f"{_AWS}: awsValidateCluster", aws_only=True),
    Enum(("spec", "api", "loadBalancer", "type"), ("Public", "Internal"), "",
         "pkg/model/*/api_loadbalancer.go (unhandled LoadBalancer type)",
         stage="kops update cluster"),
    Enum(("spec", "updatePolicy"), ("automatic", "external"), "", f"{_V}: validateClusterSpec",
         empty_ok=False),
    Enum(("spec", "containerRuntime"), ("containerd",), "",
         f"{_V}: validateContainerRuntime (docker: removed)"),
    Enum(("spec", "kubeAPIServer", "logFormat"), ("text", "json"), "",
         f"{_V}: validateKubeAPIServer"),
    Enum(("spec", "kubelet", "logFormat"), ("text", "json"), "", f"{_V}: validateKubelet"),
    Enum(("spec", "masterKubelet", "logFormat"), ("text", "json"),
         "spec.controlPlaneKubelet.logFormat", f"{_V}: validateKubelet"),
    Enum(("spec", "kubelet", "topologyManagerPolicy"),
         ("none", "best-effort", "restricted", "single-numa-node"), "", f"{_V}: validateKubelet"),
    Enum(("spec", "kubelet", "memorySwapBehavior"), ("LimitedSwap", "UnlimitedSwap"), "",
         f"{_V}: validateKubelet"),
    Enum(("spec", "networking", "flannel", "backend"), ("udp", "vxlan"), "",
         f"{_V}: validateNetworkingFlannel"),
    Enum(("spec", "networking", "cilium", "enablePolicy"), ("default", "always", "never"), "",
         f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "tunnel"), ("vxlan", "geneve", "disabled"), "",
         f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "monitorAggregation"), ("low", "medium", "maximum"),
         "", f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "identityAllocationMode"), ("crd", "kvstore"), "",
         f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "bpfLBAlgorithm"), ("random", "maglev"), "",
         f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "encryptionType"), ("ipsec", "wireguard"), "",
         f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "cilium", "ipam"), ("hostscope", "kubernetes", "crd", "eni"),
         "", f"{_V}: validateNetworkingCilium"),
    Enum(("spec", "networking", "calico", "encapsulationMode"), ("ipip", "vxlan", "none"), "",
         f"{_V}: validateNetworkingCalico"),
    Enum(("spec", "networking", "calico", "iptablesBackend"), ("Auto", "Legacy", "NFT"), "",
         f"{_V}: validateNetworkingCalico"),
    Enum(("spec", "networking", "calico", "chainInsertMode"), ("insert", "append"), "",
         f"{_V}: validateNetworkingCalico"),
    Enum(("spec", "networking", "calico", "bpfLogLevel"), ("Off", "Info", "Debug"), "",
         f"{_V}: validateNetworkingCalico"),
    Enum(("spec", "networking", "calico", "bpfExternalServiceMode"), ("Tunnel", "DSR"), "",
         f"{_V}: validateNetworkingCalico"),
    Enum(("spec", "networking", "calico", "awsSrcDstCheck"), ("Enable", "Disable", "DoNothing"),
         "", f"{_V}: validateNetworkingCalico", aws_only=True),
    Enum(("spec", "clusterAutoscaler", "expander"),
         ("least-waste", "random", "most-pods", "price", "priority"), "",
         f"{_V}: validateClusterAutoscaler"),
    Enum(("spec", "externalDns", "provider"), ("dns-controller", "external-dns", "none"),
         "spec.externalDNS.provider", f"{_V}: validateExternalDNS"),
    Enum(("spec", "etcdClusters", ANY, "provider"), ("Manager",), "",
         f"{_V}: validateEtcdClusterSpec"),
)
IG_ENUMS = (
    Enum(("spec", "tenancy"), ("default", "dedicated", "host"), "",
         f"{_IG}: ValidateInstanceGroup (ec2 Tenancy values)"),
    Enum(("spec", "updatePolicy"), ("automatic", "external"), "",
         f"{_IG}: ValidateInstanceGroup", empty_ok=False),
    Enum(("spec", "volumeMounts", ANY, "filesystem"), ("btfs", "ext4", "xfs"), "",
         f"{_IG}: validateVolumeMountSpec (kops.SupportedFilesystems, spelt btfs)"),
    Enum(("spec", "instanceMetadata", "httpTokens"), ("optional", "required"), "",
         f"{_AWS}: awsValidateInstanceMetadata", aws_only=True,
         stage=_UPDATE),
    Enum(("spec", "mixedInstancesPolicy", "spotAllocationStrategy"),
         ("lowest-price", "diversified", "capacity-optimized", "capacity-optimized-prioritized",
          "price-capacity-optimized"), "", f"{_AWS}: awsValidateMixedInstancesPolicy",
         aws_only=True,
         stage=_UPDATE),
    Enum(("spec", "cpuCredits"), ("standard", "unlimited"), "",
         f"{_AWS}: awsValidateCPUCredits", aws_only=True,
         stage=_UPDATE),
    Enum(("spec", "gcpProvisioningModel"), ("STANDARD", "SPOT"), "",
         "pkg/apis/kops/validation/gce.go: gceValidateInstanceGroup", stage=_UPDATE),
    Enum(("spec", "instanceInterruptionBehavior"), ("hibernate", "stop", "terminate"), "",
         f"{_AWS}: awsValidateInstanceInterruptionBehavior", aws_only=True,
         stage=_UPDATE),
)


def _values(data: Any, path: tuple[str, ...], here: YamlPath = ()) -> Iterator[tuple[YamlPath,
                                                                                    Any]]:
    """(path, value) for each value at ``path`` in ``data``, stepping into lists at ANY."""
    if not path:
        yield here, data
        return
    step, rest = path[0], path[1:]
    if step == ANY:
        for index, item in enumerate(as_list(data)):
            yield from _values(item, rest, (*here, index))
    elif step in as_dict(data):
        yield from _values(data[step], rest, (*here, step))


def _judge(enums: tuple[Enum, ...], data: Any, cloud: str, key: str) -> Iterator[Issue]:
    for enum in enums:
        if enum.aws_only and cloud != "aws":
            continue
        for path, value in _values(data, enum.path):
            if value is None or (value == "" and enum.empty_ok) or value in enum.values:
                continue
            kops_path = enum.kops_path or dotted(path)
            listed = ", ".join(f'"{v}"' for v in enum.values)
            refused = ("kops refuses it when storing the object" if enum.stage == "store write"
                       else f"{enum.stage} refuses it")
            yield Issue(ENUM_VALUE, key, path,
                        f"{kops_path}: Unsupported value: {value!r}: supported values: {listed}"
                        f" ({refused})")


def check_enums(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is not None:
        yield from _judge(CLUSTER_ENUMS, view.cluster, view.cloud, "config")
    for file_name, ig in sorted(view.igs.items()):
        cloud = view.cloud if view.cluster is not None else ""
        # an IG alone (no Cluster) is judged on the cloud-neutral enumerations only
        for issue in _judge(IG_ENUMS, {"spec": ig_spec(ig)}, cloud, ""):
            yield ig_issue(file_name, issue.rule, issue.path, issue.message)


CHECKS = (check_enums,)
