"""Rule metadata: every rule id with its one-line reason, its fix and the kops source.

Each topic module declares its rules with ``rule(...)``; the catalog is what
``docs/validation.md`` and ``--format json`` consumers rely on, and a test checks that
every id a check can emit is declared here and documented.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleInfo:
    id: str
    reason: str  # why the rule exists, one line
    fix: str  # what to do, one line
    source: str  # the kops code it mirrors, or "none (kops does not check)"
    update_only: bool = False


RULES: dict[str, RuleInfo] = {}


def rule(rule_id: str, reason: str, fix: str, source: str, *, update_only: bool = False) -> str:
    """Declare a rule once; returns the id so modules can keep it in a constant."""
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} declared twice")
    RULES[rule_id] = RuleInfo(rule_id, reason, fix, source, update_only)
    return rule_id


# Loader and shape rules live here: they are not topic modules' checks.
FILE_TOO_LARGE = rule(
    "file-too-large",
    "a kops object is a few kilobytes; a huge file is a mistake and would stall the parser",
    "shrink the object (move big fileAssets/hooks content elsewhere)",
    "none (kops-gitsync limit, 256 KiB)",
)
CONFLICT_MARKERS = rule(
    "conflict-markers",
    "an unfinished git merge left <<<<<<< ======= >>>>>>> lines in the object",
    "resolve the conflict and delete the marker lines",
    "none (kops fails to decode: pkg/kopscodecs/codecs.go)",
)
YAML_SYNTAX = rule(
    "yaml-syntax",
    "kops cannot decode a file that is not well-formed UTF-8 YAML",
    "fix the syntax at the position shown",
    "pkg/kopscodecs/codecs.go: Decode (YAML to JSON step)",
)
YAML_DUPLICATE_KEY = rule(
    "yaml-duplicate-key",
    "kops decodes YAML leniently and silently keeps the last of two equal keys",
    "delete the key you did not mean",
    "none (sigs.k8s.io/yaml non-strict decode)",
)
YAML_TOO_COMPLEX = rule(
    "yaml-too-complex",
    "an alias bomb or absurd nesting would exhaust memory when expanded",
    "write the object out plainly, without anchors and aliases",
    "none (kops-gitsync limit)",
)
YAML_MULTIPLE_DOCUMENTS = rule(
    "yaml-multiple-documents",
    "kops reads only the first document of a stored object; the rest is silently ignored",
    "keep one object per file (config, instancegroup/<name>)",
    "pkg/client/simple/vfsclientset/commonvfs.go (inferred)",
)
YAML_NOT_OBJECT = rule(
    "yaml-not-object",
    "an object file must hold one YAML mapping",
    "write the Cluster or InstanceGroup as a key: value mapping",
    "pkg/kopscodecs/codecs.go: Decode",
)
API_VERSION = rule(
    "api-version",
    "kops decodes only kops.k8s.io/v1alpha2, v1alpha3 and the legacy kops/v1alpha2",
    "set apiVersion: kops.k8s.io/v1alpha2",
    "pkg/kopscodecs/codecs.go: Decode",
)
API_VERSION_UNCHECKED = rule(
    "api-version-unchecked",
    "the shipped schema and rules speak v1alpha2; other versions get only basic checks",
    "store objects as kops.k8s.io/v1alpha2 (kops does on write)",
    "pkg/client/simple/vfsclientset/commonvfs.go: StoreVersion",
)
API_KIND = rule(
    "api-kind",
    "kops reads a Cluster from config and an InstanceGroup from instancegroup/<name>",
    "set the kind the path calls for, or move the object",
    "pkg/client/simple/vfsclientset/cluster.go, instancegroup.go",
)
CLUSTER_CONFIG_MISSING = rule(
    "cluster-config-missing",
    "instance groups without a Cluster object belong to no cluster kops can load",
    "add <cluster>/config or delete the leftover instance groups",
    "pkg/client/simple/vfsclientset/cluster.go: find",
)
SCHEMA_UNKNOWN_FIELD = rule(
    "schema-unknown-field",
    "kops drops unknown fields silently, so a misspelt field is a setting that never applies",
    "rename the field (see the suggestion) or delete it",
    "k8s/crds/kops.k8s.io_*.yaml; pkg/edit (HasExtraFields)",
)
SCHEMA_INVALID = rule(
    "schema-invalid",
    "the value does not have the type or form kops' API declares",
    "give the field a value of the declared type",
    "k8s/crds/kops.k8s.io_*.yaml (pkg/apis/kops/v1alpha2 types)",
)
RULE_CRASHED = rule(
    "rule-crashed",
    "a check raised on this file, so the file is not fully checked: fail closed, not pass",
    "report it with the file; rerun with KOPS_GITSYNC_DEBUG=1 to get the traceback",
    "none (kops-gitsync)",
)
