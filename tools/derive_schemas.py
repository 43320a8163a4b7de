#!/usr/bin/env python3
"""Derive the JSON Schemas shipped in ``kops_gitsync/validate/schemas/`` from kops' CRDs.

kops publishes its API as CustomResourceDefinitions (``k8s/crds/`` in the kops repo, copied
to ``../shared/kops-crds/``). Their OpenAPI v3 schemas are close to JSON Schema, but not
the same, and too lenient for a review hook. This script turns them into draft 2020-12
JSON Schema that the package can ship and load without the CRDs:

* every object that lists ``properties`` gets ``additionalProperties: false`` unless it
  says ``x-kubernetes-preserve-unknown-fields``: kops drops unknown fields silently, and
  that is exactly what the hook must report;
* ``x-kubernetes-int-or-string`` also accepts a number (a YAML ``0.5`` for a CPU request
  is a valid quantity to kops);
* ``nullable: true`` becomes a ``null`` alternative;
* descriptions and Kubernetes list/map annotations are dropped (size: 440 KB -> ~100 KB);
* ``metadata`` gets the ObjectMeta fields, so a misspelt ``lables`` is caught too;
* the result may use only the keywords ``kops_gitsync.validate.schema`` evaluates
  (checked here, so a CRD update that needs a new keyword fails loudly).

Usage: ``python tools/derive_schemas.py [CRD_DIR] [OUT_DIR]`` (defaults:
``../shared/kops-crds`` and ``kops_gitsync/validate/schemas``). Re-run it when the CRDs
are updated and commit the output together with the new CRD revision in ``$comment``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CRDS = REPO.parent / "shared" / "kops-crds"
DEFAULT_OUT = REPO / "kops_gitsync" / "validate" / "schemas"
SOURCES = {
    "cluster.json": "kops.k8s.io_clusters.yaml",
    "instancegroup.json": "kops.k8s.io_instancegroups.yaml",
}
VERSION = "v1alpha2"
KOPS_COMMIT = "268927e26409f861634e18f3632c9dd483c350cf"
DROPPED = {
    "required",  # post-defaulting shape: kops fills these before it checks (issue 15)
    "description",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "nullable",
    "format",  # int32/int64/byte/date-time: informational for jsonschema, drop the noise
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


def derive(crd_path: Path) -> dict[str, Any]:
    crd = YAML(typ="safe", pure=True).load(crd_path.read_text(encoding="utf-8"))
    versions = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
    if not versions:
        raise SystemExit(f"{crd_path}: no {VERSION} version")
    schema = convert(versions[0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = OBJECT_META
    schema["additionalProperties"] = False
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (
            f"Derived by tools/derive_schemas.py from kops {crd_path.name}"
            f" ({crd['spec']['names']['kind']} {VERSION}), kops commit {KOPS_COMMIT};"
            " Apache-2.0 like kops. Do not edit by hand."
        ),
        **schema,
    }


def main(argv: list[str]) -> int:
    crds = Path(argv[1]) if len(argv) > 1 else DEFAULT_CRDS
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    from kops_gitsync.validate.schema import ensure_supported

    for target, source in SOURCES.items():
        schema = derive(crds / source)
        ensure_supported(schema, target)  # the package's evaluator must understand it all
        text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
        (out / target).write_text(text, encoding="utf-8")
        print(f"{out / target}: {len(text)} bytes from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
