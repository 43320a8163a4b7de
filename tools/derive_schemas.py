#!/usr/bin/env python3
"""Derive the per-kops-minor JSON Schemas in ``kops_gitsync/validate/schemas/`` from kops' CRDs.

kops publishes its API as CustomResourceDefinitions (``k8s/crds/`` in the kops repository).
Fields come and go between kops minors, so one schema per minor is shipped and the one
named by a cluster's ``kops-version.txt`` is used. Each is read from a git tag of a local
kops clone (bare is fine), so no network and no Go toolchain are needed:

    python tools/derive_schemas.py --kops-git /work/.mirror/kubernetes+kops/repo \\
        v1.33.2 v1.34.3 v1.35.2 v1.36.2 v1.37.0-alpha.1

writes ``kops-<major>.<minor>.json.gz`` for each tag (one file per minor, so give the
newest patch of each). ``--crds DIR --label v1.37.0-alpha.1`` reads a CRD folder instead.

The OpenAPI v3 of a CRD is close to JSON Schema, but not the same, and too lenient for a
review hook; the conversion:

* every object that lists ``properties`` gets ``additionalProperties: false`` unless it
  says ``x-kubernetes-preserve-unknown-fields``: kops drops unknown fields silently, and
  the hook reports them (as warnings: kops stores the object anyway);
* ``required`` lists are dropped: they describe the object after kops' defaulting
  (``spec.iam.legacy``), not what users write and kops decodes (issue 15);
* ``x-kubernetes-int-or-string`` also accepts a number (a YAML ``0.5`` CPU request);
* ``nullable: true`` becomes a ``null`` alternative;
* descriptions and Kubernetes list/map annotations are dropped;
* ``metadata`` gets the ObjectMeta fields, so a misspelt ``lables`` is caught too;
* only the keywords ``kops_gitsync.validate.schema`` evaluates are used (checked here).

Output is gzip with a zero mtime and sorted keys, so re-running it is byte-for-byte stable
(a test re-derives and compares when the kops clone is present).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "kops_gitsync" / "validate" / "schemas"
CRD_FILES = {"Cluster": "kops.k8s.io_clusters.yaml",
             "InstanceGroup": "kops.k8s.io_instancegroups.yaml"}
VERSION = "v1alpha2"
DROPPED = {
    "description",
    "required",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-validations",
    "nullable",
    "format",  # int32/int64/byte/date-time: informational, drop the noise
}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "selfLink": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "ownerReferences": {"type": "array"},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "managedFields": {"type": "array"},
    },
}
_TAG = re.compile(r"^v?(\d+)\.(\d+)\.\d+(?:-[0-9A-Za-z.]+)?$")


def convert(node: Any) -> Any:
    """One OpenAPI v3 (structural CRD) schema node to JSON Schema."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: convert(value) for key, value in node.items() if key not in DROPPED}
    if isinstance(node.get("properties"), dict):  # field names, not keywords: keep them all
        out["properties"] = {name: convert(sub) for name, sub in node["properties"].items()}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "number"}, {"type": "string"}]
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"].append({"type": "null"})
    return out


def derive(crd_text: str, where: str) -> dict[str, Any]:
    crd = YAML(typ="safe", pure=True).load(crd_text)
    versions = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
    if not versions:
        raise SystemExit(f"{where}: no {VERSION} version")
    schema: dict[str, Any] = convert(versions[0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = OBJECT_META
    schema["additionalProperties"] = False
    return schema


def minor_of(label: str) -> str:
    match = _TAG.match(label)
    if not match:
        raise SystemExit(f"{label}: not a kops release tag (vMAJOR.MINOR.PATCH[-pre])")
    return f"{match.group(1)}.{match.group(2)}"


def from_git(git_dir: Path, tag: str) -> tuple[dict[str, str], str]:
    """The two CRDs at ``tag`` and the tag's commit."""
    def git(*args: str) -> str:
        return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True,
                              capture_output=True, text=True).stdout

    commit = git("rev-parse", f"{tag}^{{commit}}").strip()
    texts = {kind: git("show", f"{commit}:k8s/crds/{name}") for kind, name in CRD_FILES.items()}
    return texts, commit


def bundle(label: str, commit: str, texts: dict[str, str]) -> bytes:
    """One minor's schemas as deterministic gzip'd JSON."""
    sys.path.insert(0, str(REPO))
    from kops_gitsync.validate.schema import ensure_supported

    document: dict[str, Any] = {
        "$comment": (f"Derived by tools/derive_schemas.py from kops {label} (commit {commit}),"
                     f" k8s/crds/, {VERSION}; Apache-2.0 like kops. Do not edit by hand."),
        "kops": label,
        "commit": commit,
    }
    for kind, text in texts.items():
        schema = derive(text, f"{label}:{CRD_FILES[kind]}")
        ensure_supported(schema, f"{label} {kind}")  # the evaluator must understand it all
        document[kind] = schema
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tags", nargs="*", help="kops tags, the newest patch of each minor")
    parser.add_argument("--kops-git", type=Path, help="a kops git directory (bare is fine)")
    parser.add_argument("--crds", type=Path, help="a k8s/crds folder instead of --kops-git")
    parser.add_argument("--label", help="with --crds: the kops version it is (v1.37.0-alpha.1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, str, dict[str, str]]] = []
    if args.crds is not None:
        if not args.label:
            parser.error("--crds needs --label")
        texts = {k: (args.crds / n).read_text(encoding="utf-8") for k, n in CRD_FILES.items()}
        jobs.append((args.label, "unknown", texts))
    elif args.kops_git is not None and args.tags:
        for tag in args.tags:
            texts, commit = from_git(args.kops_git, tag)
            jobs.append((tag, commit, texts))
    else:
        parser.error("give --kops-git DIR TAG... or --crds DIR --label TAG")
    for label, commit, texts in jobs:
        target = args.out / f"kops-{minor_of(label)}.json.gz"
        data = bundle(label, commit, texts)
        target.write_bytes(data)
        print(f"{target}: {len(data)} bytes from kops {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
