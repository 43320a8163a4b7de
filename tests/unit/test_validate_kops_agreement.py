"""Validation agrees with what kops decodes and refuses (issues 11 and 15).

Each case here was a disagreement between ``kops-gitsync validate`` and the kops binary:
either we refused what kops stores (stricter than kops, with no later stage refusing it),
or we let through what ``kops create -f``/``kops replace -f`` refuses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.validate import Finding, validate_cluster
from tests.conftest import FIXTURE_STORES
from tests.unit.validate_helpers import cluster_docs, encode, findings


def errors(docs: dict, store: str = "minimal-aws") -> list[str]:
    return [f"{f.rule}: {f.message}" for f in findings(docs, store) if f.severity == "error"]


def test_defaulted_fields_may_be_left_empty() -> None:
    """``iam: {}``: kops defaults ``legacy``; the CRD's ``required`` is post-defaulting."""
    docs = cluster_docs()
    docs["config"]["spec"]["iam"] = {}
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Public"}}
    assert errors(docs) == []


def by_rule(docs: dict, rule: str, store: str = "minimal-aws") -> list[Finding]:
    return [f for f in findings(docs, store) if f.rule == rule]


def test_unknown_field_is_a_warning_with_a_suggestion() -> None:
    """kops drops unknown fields silently and stores the object: warn, do not refuse."""
    docs = cluster_docs()
    docs["config"]["spec"]["kubernetesVersoin"] = "1.34.0"
    (finding,) = by_rule(docs, "schema-unknown-field")
    assert finding.severity == "warning"
    assert "did you mean 'kubernetesVersion'?" in finding.message
    assert errors(docs) == []


def test_strict_turns_warnings_into_errors() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["kubernetesVersoin"] = "1.34.0"
    strict = validate_cluster("state/minimal-aws.example.com", encode(docs), strict=True)
    (finding,) = [f for f in strict if f.rule == "schema-unknown-field"]
    assert finding.severity == "error" and "--strict" in finding.message


def test_cli_strict_flag(tmp_path: Path) -> None:
    cluster = tmp_path / "minimal-aws.example.com"
    shutil.copytree(FIXTURE_STORES / "minimal-aws" / "minimal-aws.example.com", cluster)
    config = cluster / "config"
    config.write_text(config.read_text().replace("  kubernetesVersion:", "  kubernetesVersoin:"
                                                 " 1.34.0\n  kubernetesVersion:", 1))
    run = [sys.executable, "-m", "kops_gitsync", "validate", str(cluster)]
    lenient = subprocess.run(run, capture_output=True, text=True, check=False)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "did you mean 'kubernetesVersion'?" in lenient.stdout
    strict = subprocess.run([*run, "--strict"], capture_output=True, text=True, check=False)
    assert strict.returncode == 1 and "schema-unknown-field" in strict.stdout


@pytest.mark.parametrize(("taint", "verdict"), [
    # kops 1.37.0-alpha.1 pkg/apis/kops/util/taints.go ParseTaint + ValidateInstanceGroup
    ("a=b:c", "warning"),  # kops' own ha_gce input: stored and rendered
    ("dedicated=gpu:NoSchedule", None),
    ("bare-key", "warning"),  # no effect: kops takes it as a key
    ("a:b:NoSchedule", "error"),  # two ':'
    ("a=b=c:NoSchedule", "error"),  # two '='
])
def test_taints_as_kops_parses_them(taint: str, verdict: str | None) -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["taints"] = [taint]
    found = [f for f in findings(docs) if f.rule.startswith("ig-taint")]
    assert [f.severity for f in found] == ([verdict] if verdict else [])


def test_duplicate_taint_is_refused() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["taints"] = ["a=b:NoSchedule", "a=b:NoSchedule"]
    assert [f.severity for f in by_rule(docs, "ig-taints")] == ["error"]


def test_duplicate_key_is_a_warning() -> None:
    """kops' YAML decoding keeps the last of two equal keys and stores the object."""
    files = encode(cluster_docs())
    raw = (FIXTURE_STORES / "minimal-aws" / "minimal-aws.example.com" / "config").read_text()
    raw = raw.replace("spec:\n", "spec:\n  kubernetesVersion: 1.33.0\n", 1)
    files["config"] = raw.encode()
    found = [f for f in validate_cluster("state/minimal-aws.example.com", files)
             if f.rule == "yaml-duplicate-key"]
    assert [f.severity for f in found] == ["warning"]


# --- facts from kops 1.37.0-alpha.1 (pkg/apis/kops/validation/validation.go parseCIDR,
# validateClusterSpec; recorded by reading the source, and the bare-IP case by the kops
# binary in issue 15): field value -> kops' message at store write, None = accepted
ACCESS_FACTS = [
    ("1.2.3.4", 'Could not be parsed as a CIDR (did you mean "1.2.3.4/32")'),
    ("2001:db8::1", 'Could not be parsed as a CIDR (did you mean "2001:db8::1/64")'),
    ("1.2.3.4/24", 'Network contains bits outside prefix (did you mean "1.2.3.0/24")'),
    ("not-a-cidr", "Could not be parsed as a CIDR"),
    ("10.0.0.0/255.0.0.0", "Could not be parsed as a CIDR"),
    ("0.0.0.0/0", None),
    ("203.0.113.0/24", None),
    ("::/0", None),
    ("pl-0123456789abcdef0", None),  # AWS prefix list
]


@pytest.mark.parametrize("field", ["sshAccess", "kubernetesApiAccess", "nodePortAccess"])
@pytest.mark.parametrize(("value", "kops_says"), ACCESS_FACTS)
def test_access_lists_as_kops_parses_them(field: str, value: str, kops_says: str | None) -> None:
    docs = cluster_docs()
    docs["config"]["spec"][field] = [value]
    found = by_rule(docs, "access-cidr")
    if kops_says is None:
        assert found == []
        return
    (finding,) = found
    kops_field = "kubernetesAPIAccess" if field == "kubernetesApiAccess" else field
    assert finding.severity == "error"
    assert finding.message.startswith(f"spec.{kops_field}[0]: Invalid value: {value!r}: ")
    assert finding.message.endswith(kops_says)


def test_prefix_list_outside_aws_is_refused() -> None:
    docs = cluster_docs("minimal_gce")
    docs["config"]["spec"]["sshAccess"] = ["pl-0123"]
    (finding,) = by_rule(docs, "access-cidr", "minimal_gce")
    assert "Prefix List ID only supported for AWS" in finding.message


# field path (v1alpha2), value, kops' verdict at store write (kops 1.37.0-alpha.1)
ENUM_FACTS = [
    (("spec", "topology", "dns", "type"), "Bogus", "spec.networking.topology.dns.type"),
    (("spec", "topology", "dns", "type"), "None", None),
    (("spec", "api", "loadBalancer", "class"), "Fancy", "spec.api.loadBalancer.class"),
    (("spec", "api", "loadBalancer", "class"), "Network", None),
    (("spec", "api", "loadBalancer", "type"), "Sideways", "spec.api.loadBalancer.type"),
    (("spec", "api", "loadBalancer", "type"), "Internal", None),
    (("spec", "updatePolicy"), "sometimes", "spec.updatePolicy"),
    (("spec", "containerRuntime"), "rkt", "spec.containerRuntime"),
    (("spec", "kubelet", "logFormat"), "xml", "spec.kubelet.logFormat"),
    (("spec", "networking", "cilium", "tunnel"), "gre", "spec.networking.cilium.tunnel"),
]


@pytest.mark.parametrize(("path", "value", "kops_path"), ENUM_FACTS)
def test_enumerations_kops_checks(path: tuple[str, ...], value: str,
                                  kops_path: str | None) -> None:
    docs = cluster_docs()
    node = docs["config"]
    for step in path[:-1]:
        node = node.setdefault(step, {})
    if path[:3] == ("spec", "networking", "cilium"):
        docs["config"]["spec"]["networking"] = {"cilium": {}}
        node = docs["config"]["spec"]["networking"]["cilium"]
    node[path[-1]] = value
    found = [f for f in by_rule(docs, "enum-value")]
    if kops_path is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == "error"
    assert finding.message.startswith(f"{kops_path}: Unsupported value: {value!r}")


def test_ig_enumerations() -> None:
    docs = cluster_docs()
    docs["instancegroup/nodes"]["spec"]["tenancy"] = "sharing"
    (finding,) = by_rule(docs, "enum-value")
    assert finding.path.endswith("instancegroup/nodes") and finding.severity == "error"
    assert finding.message.startswith("spec.tenancy: Unsupported value: 'sharing'")


def test_unknown_networking_key_chooses_nothing() -> None:
    """kops drops ``bogus``, so no provider is set: kops update fails (no networking mode)."""
    docs = cluster_docs()
    docs["config"]["spec"]["networking"] = {"bogus": {}}
    assert {f.rule: f.severity for f in findings(docs)
            if f.rule in ("networking-exactly-one", "schema-unknown-field")} == {
        "networking-exactly-one": "error", "schema-unknown-field": "warning"}


def test_two_networking_providers_are_refused() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["networking"] = {"cni": {}, "calico": {}}
    assert [f.severity for f in by_rule(docs, "networking-exactly-one")] == ["error"]


@pytest.mark.parametrize(("api_version", "verdict"), [
    # pkg/kopscodecs/codecs.go Decode + pkg/apis/kops/install: kops.k8s.io v1alpha2 and
    # v1alpha3 are registered; the legacy group "kops" is rewritten for v1alpha2 only
    ("kops.k8s.io/v1alpha2", None),
    ("kops/v1alpha2", None),
    ("kops.k8s.io/v1alpha3", "warning"),  # decoded; we check it less (api-version-unchecked)
    ("kops/v1alpha3", "error"),
    ("kops.k8s.io/v1", "error"),
    ("kops.k8s.io/v1beta1", "error"),
    ("v1", "error"),
])
def test_api_versions_kops_decodes(api_version: str, verdict: str | None) -> None:
    docs = cluster_docs()
    docs["config"]["apiVersion"] = api_version
    found = [f.severity for f in findings(docs) if f.rule.startswith("api-version")]
    assert found == ([verdict] if verdict else [])


@pytest.mark.parametrize(("store", "verdict"), [
    # legacy.go validateServiceAccountIssuerDiscovery: a user's kops has no memfs ("not a
    # valid VFS path"; kops' own tests register it); file:// is not S3 or GCS
    ("memfs://discovery/", "error"),
    ("file:///srv/discovery", "error"),
    ("s3://discovery-bucket/c", None),
    ("s3://dotted.bucket/c", "error"),
    ("gs://discovery/c", None),
])
def test_discovery_store(store: str, verdict: str | None) -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["serviceAccountIssuerDiscovery"] = {"discoveryStore": store}
    found = [f.severity for f in by_rule(docs, "service-account-issuer-discovery")]
    assert found == ([verdict] if verdict else [])


# validation.go validateClusterSpec (kops 1.37.0-alpha.1): load balancer settings only AWS
# has, an Internal load balancer without a Private subnet, cluster sysctls, assets
@pytest.mark.parametrize(("field", "value"), [
    ("class", "Network"), ("idleTimeoutSeconds", 300), ("sslCertificate", "arn:x"),
    ("crossZoneLoadBalancing", True), ("additionalSecurityGroups", ["sg-1"]),
])
def test_aws_only_load_balancer_fields_elsewhere(field: str, value: object) -> None:
    docs = cluster_docs("minimal_gce")
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Public", field: value}}
    found = [f for f in findings(docs, "minimal_gce") if f.rule == "api-lb-aws-only"]
    assert [f.severity for f in found] == ["error"]
    assert f"spec.api.loadBalancer.{field}: Forbidden" in found[0].message
    docs = cluster_docs()
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Public", field: value}}
    assert by_rule(docs, "api-lb-aws-only") == []


def test_internal_load_balancer_needs_a_private_subnet() -> None:
    docs = cluster_docs()  # minimal-aws: one Public subnet
    docs["config"]["spec"]["api"] = {"loadBalancer": {"type": "Internal", "class": "Network"}}
    assert [f.severity for f in by_rule(docs, "api-lb-internal-private")] == ["error"]
    assert by_rule(cluster_docs("privatecalico"), "api-lb-internal-private") == []


def test_cluster_sysctls_need_an_equals_sign() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["sysctlParameters"] = ["net.ipv4.ip_forward=1", "vm.swappiness"]
    (finding,) = by_rule(docs, "cluster-sysctl")
    assert finding.severity == "error" and "spec.sysctlParameters[1]" in finding.message


def test_container_proxy_and_registry_exclude_each_other() -> None:
    docs = cluster_docs()
    docs["config"]["spec"]["assets"] = {"containerProxy": "p.example.com",
                                        "containerRegistry": "r.example.com"}
    assert [f.severity for f in by_rule(docs, "assets-proxy-and-registry")] == ["error"]


@pytest.mark.parametrize(("field", "value", "kops_path"), [
    # aws.go (awsValidateInstanceGroup and helpers), kops 1.37.0-alpha.1; AWS clusters only
    (("instanceMetadata", "httpTokens"), "sometimes", "spec.instanceMetadata.httpTokens"),
    (("cpuCredits",), "infinite", "spec.cpuCredits"),
    (("mixedInstancesPolicy", "spotAllocationStrategy"), "cheapest",
     "spec.mixedInstancesPolicy.spotAllocationStrategy"),
    (("instanceInterruptionBehavior",), "explode", "spec.instanceInterruptionBehavior"),
])
def test_aws_instance_group_enumerations(field: tuple[str, ...], value: str,
                                         kops_path: str) -> None:
    docs = cluster_docs()
    node = docs["instancegroup/nodes"]["spec"]
    for step in field[:-1]:
        node = node.setdefault(step, {})
    node[field[-1]] = value
    (finding,) = by_rule(docs, "enum-value")
    assert finding.severity == "error" and finding.message.startswith(f"{kops_path}: ")
    good = cluster_docs("minimal_gce")  # not AWS: kops does not look at these fields
    good["instancegroup/nodes"]["spec"]["cpuCredits"] = "infinite"
    assert by_rule(good, "enum-value", "minimal_gce") == []
