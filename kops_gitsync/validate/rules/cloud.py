"""Cloud provider rules, and the cloud-specific fields that apply only where that cloud is.

A GCE cluster has regional subnets and no VPC range of its own (``networkCIDR`` is
forbidden there); an AWS cluster needs ``networkCIDR``. Checking a field everywhere would
flag every GCE store, so each rule here first asks which cloud the Cluster names.
Also here: fields kops removed (``docker``, ``iam.legacy: true``, ...), which it still
decodes and then refuses.
"""

from __future__ import annotations

from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import (
    ClusterView,
    as_dict,
    as_list,
    as_str,
    cluster_issue,
    ig_issue,
    ig_spec,
)
from kops_gitsync.validate.rules.catalog import rule

_V = "pkg/apis/kops/validation/validation.go"
CLOUDS = ("aws", "azure", "digitalocean", "gce", "hetzner", "linode", "metal", "openstack",
          "scaleway")
NETWORK_CIDR_OPTIONAL = ("digitalocean", "gce", "hetzner", "openstack", "scaleway", "linode",
                         "metal")
REGIONAL_SUBNET_CLOUDS = ("gce", "digitalocean", "azure", "linode")
# validateCloudDNSTopology: the DNS modes each cloud supports (legacy gossip, a .k8s.local
# name with DNS not None, is judged by names.check_cluster_name: cluster-name-gossip)
DNS_MODES = {"aws": ("None", "Public", "Private"), "azure": ("None",),
             "digitalocean": ("None", "Public"), "gce": ("None", "Public", "Private"),
             "hetzner": ("None",), "linode": ("None",), "metal": ("None",),
             "openstack": ("None", "Public", "Private"), "scaleway": ("None", "Public")}
FORBIDDEN_FIELDS = ("docker", "gossipConfig", "dnsControllerGossipConfig", "nodeAuthorization")

CLOUD_PROVIDER = rule("cloud-provider", "kops must know which cloud to build the cluster on",
                      f"set spec.cloudProvider to one of {', '.join(CLOUDS)}",
                      f"{_V}: validateCloudProvider")
DNS_TOPOLOGY = rule("cloud-dns-topology",
                    "each cloud supports only some DNS modes (Azure, Hetzner, Linode, metal:"
                    " None; DigitalOcean, Scaleway: no Private)",
                    "set spec.topology.dns.type: None", f"{_V}: validateCloudDNSTopology")
NETWORK_CIDR_REQUIRED = rule(
    "network-cidr-required", "on AWS (and Azure) kops needs the VPC range to plan subnets",
    "set spec.networkCIDR, e.g. 172.20.0.0/16", f"{_V}: validateNetworking")
NETWORK_CIDR_FORBIDDEN = rule(
    "network-cidr-forbidden", "GCE networks have no cluster-wide range; kops refuses networkCIDR",
    "delete spec.networkCIDR", f"{_V}: validateCloudProvider; gce.go")
ADDITIONAL_CIDRS_AWS = rule(
    "additional-network-cidrs-aws-only", "only AWS VPCs take additional CIDR blocks",
    "delete spec.additionalNetworkCIDRs", f"{_V}: validateCloudProvider")
IPV6_CIDR_AWS = rule("subnet-ipv6-aws-only", "kops supports subnet ipv6CIDR only on AWS",
                     "delete ipv6CIDR from the subnet", f"{_V}: validateSubnets")
SUBNET_REGION = rule(
    "subnet-region",
    "GCE, DigitalOcean, Azure and Linode subnets are regional: each needs the same region",
    "set region on every subnet, all equal", f"{_V}: validateSubnets")
GCE_SUBNET_ZONE = rule("gce-subnet-zone", "GCE subnets are regional and must not set zone",
                       "delete zone from the subnet (put zones on the IGs)",
                       "pkg/apis/kops/validation/gce.go: gceValidateCluster")
GCE_IG_ZONES = rule("gce-ig-zones", "a GCE instance group is placed by its zones",
                    "list the zones under spec.zones of the IG",
                    "pkg/apis/kops/validation/gce.go: gceValidateInstanceGroup")
FORBIDDEN_FIELD = rule(
    "forbidden-field",
    "kops removed docker, iam.legacy, gossipConfig, dnsControllerGossipConfig,"
    " nodeAuthorization and file:// addons; it refuses clusters that still set them",
    "delete the field (use containerd; drop legacy IAM)", f"{_V}: validateClusterSpec")
API_LB_CLASSIC = rule("api-lb-classic",
                      "AWS retires Classic load balancers; kops (through 1.37) still builds"
                      " them, so this is a warning",
                      "set spec.api.loadBalancer.class: Network",
                      "none (kops 1.33-1.37 accept Classic: aws.go SupportedLoadBalancerClasses)")
SA_ISSUER_DISCOVERY = rule(
    "service-account-issuer-discovery",
    "OIDC discovery documents need exactly one home that AWS/GCP can serve publicly",
    "set discoveryStore (s3:// bucket without dots, or gs://) or discoveryService, not both",
    "pkg/apis/kops/validation/legacy.go: validateServiceAccountIssuerDiscovery")


def check_cloud(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    spec, cloud = view.spec, view.cloud
    if cloud not in CLOUDS:
        value = spec.get("cloudProvider")
        where = ("spec", "cloudProvider") if value is not None else ("spec",)
        yield cluster_issue(CLOUD_PROVIDER, where,
                            f"cloudProvider {value!r} is not one kops supports; use one of"
                            f" {', '.join(CLOUDS)}", at_key=value is None)
        return
    gossip = as_str(view.metadata.get("name")).removesuffix(".").endswith(".k8s.local")
    if not gossip and view.dns_type in ("Public", "Private") and \
            view.dns_type not in DNS_MODES[cloud]:
        yield cluster_issue(DNS_TOPOLOGY, ("spec", "topology"),
                            f"spec.networking.topology.dns.type: Forbidden: cloud provider"
                            f" {cloud!r} does not support {view.dns_type.lower()} dns topology;"
                            f" use one of {', '.join(DNS_MODES[cloud])}")
    if "networkCIDR" in spec and cloud == "gce":
        yield cluster_issue(NETWORK_CIDR_FORBIDDEN, ("spec", "networkCIDR"),
                            "GCE clusters must not set networkCIDR; delete it")
    elif not spec.get("networkCIDR") and cloud not in NETWORK_CIDR_OPTIONAL:
        yield cluster_issue(NETWORK_CIDR_REQUIRED, ("spec",),
                            f"{cloud} clusters need spec.networkCIDR; set it, e.g."
                            " 172.20.0.0/16", at_key=True)
    if spec.get("additionalNetworkCIDRs") and cloud != "aws":
        yield cluster_issue(ADDITIONAL_CIDRS_AWS, ("spec", "additionalNetworkCIDRs"),
                            f"additionalNetworkCIDRs works only on AWS, not {cloud}; delete it")
    yield from _subnet_cloud_fields(view)
    if cloud == "aws":
        lb = as_dict(as_dict(spec.get("api")).get("loadBalancer"))
        if lb.get("class") == "Classic":
            yield cluster_issue(API_LB_CLASSIC, ("spec", "api", "loadBalancer", "class"),
                                "Classic load balancers are being retired by AWS; set"
                                " class: Network", severity="warning")


def _subnet_cloud_fields(view: ClusterView) -> Iterator[Issue]:
    cloud = view.cloud
    regions: set[str] = set()
    for index, subnet in view.subnets():
        here = ("spec", "subnets", index)
        if subnet.get("ipv6CIDR") and cloud != "aws":
            yield cluster_issue(IPV6_CIDR_AWS, (*here, "ipv6CIDR"),
                                f"ipv6CIDR works only on AWS, not {cloud}; delete it")
        if cloud in REGIONAL_SUBNET_CLOUDS:
            region = as_str(subnet.get("region"))
            if not region:
                yield cluster_issue(SUBNET_REGION, here,
                                    f"{cloud} subnets need a region; add region to subnet"
                                    f" {subnet.get('name')!r}")
            elif regions and region not in regions:
                yield cluster_issue(SUBNET_REGION, (*here, "region"),
                                    f"region {region!r} differs from {sorted(regions)[0]!r};"
                                    " all subnets must share one region")
            if region:
                regions.add(region)
        if cloud == "gce" and subnet.get("zone"):
            yield cluster_issue(GCE_SUBNET_ZONE, (*here, "zone"),
                                "GCE subnets are regional; delete zone (IGs carry zones)")


def check_forbidden_fields(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    spec = view.spec
    for field in FORBIDDEN_FIELDS:
        if field in spec:
            yield cluster_issue(FORBIDDEN_FIELD, ("spec", field),
                                f"spec.{field} is no longer supported by kops; delete it",
                                at_key=True)
    if as_dict(spec.get("iam")).get("legacy") is True:
        yield cluster_issue(FORBIDDEN_FIELD, ("spec", "iam", "legacy"),
                            "iam.legacy: true is no longer supported; set it to false")
    for index, addon in enumerate(as_list(spec.get("addons"))):
        manifest = as_str(as_dict(addon).get("manifest"))
        if manifest.startswith("file://"):
            yield cluster_issue(FORBIDDEN_FIELD, ("spec", "addons", index, "manifest"),
                                f"addon manifest {manifest} is a local file kops refuses;"
                                " host it in the state store or on https://")


def check_gce_instance_groups(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None or view.cloud != "gce":
        return
    for file_name, ig in sorted(view.igs.items()):
        if not as_list(ig_spec(ig).get("zones")):
            yield ig_issue(file_name, GCE_IG_ZONES, ("spec",),
                           "GCE instance groups need spec.zones; list the zones to use",
                           at_key=True)


def check_issuer_discovery(view: ClusterView) -> Iterator[Issue]:
    discovery = as_dict(view.spec.get("serviceAccountIssuerDiscovery"))
    if view.cluster is None or not discovery:
        return
    here = ("spec", "serviceAccountIssuerDiscovery")
    store = as_str(discovery.get("discoveryStore"))
    service = discovery.get("discoveryService")
    if store and service:
        yield cluster_issue(SA_ISSUER_DISCOVERY, here,
                            "set discoveryStore or discoveryService, not both", at_key=True)
    if store:
        scheme, _, rest = store.partition("://")
        if scheme not in ("s3", "gs"):
            yield cluster_issue(SA_ISSUER_DISCOVERY, (*here, "discoveryStore"),
                                f"discoveryStore {store} must be an s3:// or gs:// URL")
        elif scheme == "s3" and "." in rest.split("/", 1)[0]:
            yield cluster_issue(SA_ISSUER_DISCOVERY, (*here, "discoveryStore"),
                                f"S3 bucket in {store} has a dot, which breaks its HTTPS"
                                " certificate; use a bucket name without dots")
    if discovery.get("enableAWSOIDCProvider") is True and not (store or service):
        yield cluster_issue(SA_ISSUER_DISCOVERY, (*here, "enableAWSOIDCProvider"),
                            "enableAWSOIDCProvider needs discoveryStore or discoveryService")


CHECKS = (check_cloud, check_forbidden_fields, check_gce_instance_groups,
          check_issuer_discovery)
