"""The semantic plan's pure parts: field diff, risk flags, rendering (kops_gitsync/review/)."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kops_gitsync.review.fielddiff import (
    FieldChange,
    apply_changes,
    decode,
    diff_docs,
    segments_from_json,
)
from kops_gitsync.review.model import Version, build_review
from kops_gitsync.review.render import render, render_json

CLUSTER = """\
apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata:
  creationTimestamp: 2016-12-10T22:42:27Z
  name: c.example.com
spec:
  configBase: s3://bucket/c.example.com
  etcdClusters:
  - name: main
    etcdMembers:
    - {name: a, instanceGroup: master-a}
  - name: events
    etcdMembers:
    - {name: a, instanceGroup: master-a}
  kubernetesVersion: v1.34.0
  networking: {cni: {}}
  networkCIDR: 172.20.0.0/16
  subnets:
  - {name: us-test-1a, cidr: 172.20.32.0/19, zone: us-test-1a, type: Public}
"""

IG = """\
apiVersion: kops.k8s.io/v1alpha2
kind: InstanceGroup
metadata: {name: %(name)s}
spec: {role: %(role)s, minSize: 1, maxSize: %(max)d, subnets: [us-test-1a]}
"""


def ig(name: str = "nodes", role: str = "Node", max_size: int = 2) -> bytes:
    return (IG % {"name": name, "role": role, "max": max_size}).encode()


def review(entries: list[tuple[str, bytes | None, bytes | None]]) -> Any:
    return build_review("default", "s3://bucket", "a" * 40, "b" * 40, [
        (key, Version.of(old) if old is not None else None,
         Version.of(new) if new is not None else None) for key, old, new in entries])


def codes(plan: Any) -> set[str]:
    return {r.code for r in plan.risks}


# --- field diff -----------------------------------------------------------------------


def test_scalar_change_reads_as_path_old_new() -> None:
    (change,) = diff_docs({"spec": {"maxSize": 2}}, {"spec": {"maxSize": 5}})
    assert (change.path, change.op, change.old, change.new) == ("spec.maxSize", "change", 2, 5)


def test_named_items_are_matched_by_name_not_position() -> None:
    old = {"subnets": [{"name": "a", "cidr": "10.0.0.0/24"}, {"name": "b", "cidr": "10.0.1.0/24"}]}
    new = {"subnets": [{"name": "z", "cidr": "10.0.9.0/24"}, *old["subnets"]]}
    (change,) = diff_docs(old, new)
    assert change.path == "subnets[z]" and change.op == "add"
    members = diff_docs({"e": [{"name": "main", "m": [{"name": "a", "ig": "x"}]}]},
                        {"e": [{"name": "main", "m": [{"name": "a", "ig": "y"}]}]})
    assert [c.path for c in members] == ["e[main].m[a].ig"]


def test_lists_of_scalars_are_one_value_and_odd_keys_are_quoted() -> None:
    (change,) = diff_docs({"sshAccess": ["0.0.0.0/0"]}, {"sshAccess": ["10.0.0.0/8"]})
    assert change.path == "sshAccess" and change.new == ["10.0.0.0/8"]
    (label,) = diff_docs({"l": {"kops.k8s.io/x": "1"}}, {"l": {"kops.k8s.io/x": "2"}})
    assert label.path == 'l["kops.k8s.io/x"]'


def test_yaml_true_and_one_are_different_values() -> None:
    assert diff_docs({"a": 1}, {"a": True}) != []
    assert diff_docs({"a": [1]}, {"a": [1.0]}) != []


def test_decode_keeps_timestamps_as_text_and_refuses_bad_input() -> None:
    doc, problem = decode(CLUSTER.encode())
    assert problem is None and doc["metadata"]["creationTimestamp"] == "2016-12-10T22:42:27Z"
    assert decode(b"a: [")[1] is not None
    assert decode(b"\xff")[1] == "not UTF-8 text"
    assert decode(b"- a")[1] == "not a YAML mapping"
    laughs = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((c, c) + (c - 1,) * 9)
        for c in range(ord("b"), ord("k")))
    assert "too large" in (decode(laughs)[1] or "")


# Documents shaped like kops objects: nested maps, named lists, scalar lists.
_keys = st.sampled_from(["spec", "name", "cidr", "maxSize", "role", "subnets", "x.y/z", "m"])
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6) | st.floats(
    allow_nan=False, allow_infinity=False, width=16)


def _named_list(children: Any) -> Any:
    return st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "main"]),
                  st.dictionaries(_keys.filter(lambda k: k != "name"), children, max_size=3)),
        max_size=3, unique_by=lambda t: t[0],
    ).map(lambda items: [{"name": n, **body} for n, body in items])


_values = st.recursive(
    _scalars | st.lists(_scalars, max_size=3),
    lambda children: st.dictionaries(_keys, children, max_size=4) | _named_list(children),
    max_leaves=20,
)
_docs = st.dictionaries(_keys, _values, max_size=5)


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Scalar fields by path, named items by name (their order carries no meaning)."""
    if isinstance(value, dict):
        out: dict[tuple[Any, ...], Any] = {at: "{}"} if not value else {}
        for key, child in value.items():
            out.update(_leaves(child, (*at, key)))
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        names = [i.get("name") for i in value]
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            out = {}
            for item in value:
                out.update(_leaves(item, (*at, ("name", item["name"]))))
            return out
    return {at: json.dumps(value, sort_keys=True)}


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_identical_documents_have_no_changes(doc: dict[str, Any]) -> None:
    assert diff_docs(doc, copy.deepcopy(doc)) == []


@settings(max_examples=300, deadline=None)
@given(_docs, _docs)
def test_json_changes_rebuild_the_new_documents_fields(old: dict[str, Any],
                                                       new: dict[str, Any]) -> None:
    """Replaying the changes exactly as the JSON output carries them gives the new doc."""
    plan = review([("c/config", _as_cluster(old), _as_cluster(new))])
    doc = json.loads(render_json([plan]))
    changes = [
        FieldChange(segments_from_json(c["segments"]),
                    c.get("old", _missing()), c.get("new", _missing()))
        for store in doc["stores"] for cluster in store["clusters"]
        for obj in cluster["objects"] for c in obj["changes"]
    ]
    rebuilt = apply_changes(_wrap(old), changes)
    assert _leaves(rebuilt) == _leaves(_wrap(new))


def _missing() -> Any:
    from kops_gitsync.review.fielddiff import MISSING

    return MISSING


def _wrap(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "kops.k8s.io/v1alpha2", "kind": "Cluster", "spec": spec}


def _as_cluster(spec: dict[str, Any]) -> bytes:
    return yaml.safe_dump(_wrap(spec)).encode()


# --- secrets --------------------------------------------------------------------------

_secret_values = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
                         min_size=16, max_size=40)


@settings(max_examples=60, deadline=None)
@given(_secret_values, _secret_values, st.sampled_from(["password", "secretKey", "apiToken",
                                                         "awsSecretAccessKey", "privateKey"]))
def test_secret_values_never_appear_in_any_format(old: str, new: str, field: str) -> None:
    cluster_old = CLUSTER.replace("  kubernetesVersion", f"  {field}: {old}\n  kubernetesVersion")
    cluster_new = CLUSTER.replace("  kubernetesVersion", f"  {field}: {new}\n  kubernetesVersion")
    plan = review([
        ("c/config", cluster_old.encode(), cluster_new.encode()),
        ("c/secrets/admin", f"token: {old}\n".encode(), f"token: {new}\n".encode()),
        ("c/pki/private/ca/keyset.yaml", old.encode(), None),
        ("c/addons/x.yaml", None, f"data: {new}\n".encode()),
        ("c/instancegroup/nodes", ig(),
         ig().replace(b"spec: {", f"spec: {{apiKey: {new}, ".encode())),
    ])
    for fmt in ("text", "markdown", "json"):
        out = render([plan], fmt)
        assert old not in out and new not in out, fmt
    assert "sha256:" in render([plan], "text")


def test_a_recognisable_token_is_hidden_whatever_its_field_is_called() -> None:
    token = "AKIA" + "ABCDEFGHIJKLMNOP"
    plan = review([("c/config", CLUSTER.encode(),
                    CLUSTER.replace("v1.34.0", "v1.34.0\n  note: " + token).encode())])
    for fmt in ("text", "markdown", "json"):
        assert token not in render([plan], fmt)
    (obj,) = plan.clusters[0].objects
    assert obj.redacted == {0}


# --- risks ----------------------------------------------------------------------------


def test_each_risky_cluster_change_is_flagged() -> None:
    cases = {
        "kubernetes-version": ("v1.34.0", "v1.35.0"),
        "config-base": ("s3://bucket/c", "s3://other/c"),
        "networking": ("cni: {}", "calico: {}"),
        "subnet-cidr": ("cidr: 172.20.32.0/19", "cidr: 172.20.64.0/19"),
        "cluster-cidr": ("networkCIDR: 172.20.0.0/16", "networkCIDR: 172.21.0.0/16"),
        "etcd-members": ("- {name: a, instanceGroup: master-a}\n  - name: events",
                         "- {name: a, instanceGroup: master-a}\n    - {name: b, "
                         "instanceGroup: master-b}\n  - name: events"),
        "etcd-clusters": ("  - name: events\n", "  - name: cilium\n    etcdMembers: []\n"
                                                "  - name: events\n"),
    }
    for code, (before, after) in cases.items():
        assert before in CLUSTER, code
        plan = review([("c/config", CLUSTER.encode(), CLUSTER.replace(before, after, 1).encode())])
        assert codes(plan) == {code}, (code, render([plan], "text"))


def test_instancegroup_risks() -> None:
    assert codes(review([("c/instancegroup/nodes", ig(), ig(max_size=5))])) == set()
    assert codes(review([("c/instancegroup/m", ig("m", "Master"), ig("m", "Master", 3))])) == {
        "control-plane"}
    assert codes(review([("c/instancegroup/nodes", ig(), None)])) == {"instancegroup-deleted"}
    assert codes(review([("c/instancegroup/cp", ig("cp", "ControlPlane"), None)])) == {
        "instancegroup-deleted", "control-plane"}
    assert codes(review([("c/instancegroup/n", ig("n"), ig("n", "ControlPlane"))])) == {
        "instancegroup-role", "control-plane"}
    assert codes(review([("c/config", CLUSTER.encode(), None)])) == {"cluster-deleted"}
    assert codes(review([("c/instancegroup/new", None, ig("new"))])) == set()


def test_unparsable_objects_and_formatting_only_changes_are_notes_not_errors() -> None:
    plan = review([("c/config", CLUSTER.encode(), b"spec: [\n"),
                   ("c/instancegroup/nodes", ig(), ig() + b"\n# comment\n")])
    notes = {o.name: o.note for o in plan.clusters[0].objects}
    assert codes(plan) == set()
    pruned = review([("c/instancegroup/odd", b"not: [yaml", None), ("c/config", b"\xff", None)])
    assert codes(pruned) == {"instancegroup-deleted", "cluster-deleted"}
    assert notes["c"].startswith("not valid YAML")
    assert notes["nodes"].startswith("formatting only")


def test_escapes_reach_no_terminal_and_pipes_break_no_table() -> None:
    nasty = "a|b\x1b[31m\u202e"
    plan = review([("c/instancegroup/nodes", ig(),
                    ig().replace(b"role: Node", b'role: Node, image: "a|b\\e[31m\\u202e"'))])
    text, md = render([plan], "text"), render([plan], "markdown")
    assert "\x1b" not in text and "\u202e" not in text and nasty not in md
    assert "a&#124;b" in md


def test_a_huge_plan_is_cut_to_fit_a_comment() -> None:
    from kops_gitsync.review.render import MAX_COMMENT

    entries = [(f"c{i:04d}.example.com/instancegroup/nodes", ig(), ig(max_size=5))
               for i in range(2000)]
    md = render([review(entries)], "markdown")
    assert len(md) <= MAX_COMMENT + 200
    assert "The plan is cut here" in md and md.startswith("<!-- kops-gitsync-plan -->")
    assert "c1999.example.com" in render([review(entries)], "json")
