"""The text and markdown plans, pinned for one plan that reaches every branch of both.

The two renderers walk a plan the same way and differ only in how each line looks; these
golden files (tests/fixtures/render/) hold both outputs still while that shared walk is
changed. The plan is built from the model directly (not from YAML) so that conflicts, an
unreadable store, an empty store, risks with many and with no paths, notes, summaries,
fingerprints, objects at the store root and unpushed keys all appear in one plan. A deliberate
change of either format rewrites its file.
"""

from __future__ import annotations

from pathlib import Path

from kops_gitsync.review.fielddiff import FieldChange
from kops_gitsync.review.model import ClusterReview, ObjectChange, StoreReview
from kops_gitsync.review.render import render_markdown, render_text
from kops_gitsync.review.risk import Risk

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "render"
SHA_OLD, SHA_NEW = "a" * 64, "b" * 64


def plan() -> list[StoreReview]:
    nodes = ObjectChange("c/instancegroup/nodes", "update", "InstanceGroup", "nodes",
                         SHA_OLD, SHA_NEW, fields=[
                             FieldChange(("spec", "maxSize"), 2, 5),
                             FieldChange(("spec", "image"), new="a|b\x1b"),
                             FieldChange(("spec", "taints"), old=["x"])])
    cluster = ObjectChange("c/config", "create", "Cluster", "c.example.com", None, SHA_NEW,
                           summary={"kubernetesVersion": "v1.34.0", "cloudProvider": "aws"})
    secret = ObjectChange("c/secrets/admin", "update", "secret", "admin", SHA_OLD, SHA_NEW)
    odd = ObjectChange("c/instancegroup/odd", "delete", "InstanceGroup", "odd", SHA_OLD, None,
                       note="not valid YAML")
    root = ObjectChange("notes.txt", "create", "object", "notes.txt", None, SHA_NEW)
    busy = StoreReview("prod", "s3://kops-state", "1" * 40, "2" * 40, clusters=[
        ClusterReview("c.example.com", [nodes, cluster, secret, odd], [
            Risk("control-plane", "c/instancegroup/nodes",
                 ["spec.a", "spec.b", "spec.c", "spec.d"]),
            Risk("config-base", "c/config", [])]),
        ClusterReview("", [root])],
        conflicts=[{"key": "c/config", "reason": "changed in git and in the store"}],
        not_pushed=["c/instancegroup/x", "c/instancegroup/y"])
    broken = StoreReview("broken", "", None, None, error="cannot read\nthe store")
    quiet = StoreReview("quiet", "s3://q", None, "3" * 40)
    return [busy, broken, quiet]


def test_text_plan_is_unchanged() -> None:
    assert render_text(plan()) + "\n" == (GOLDEN / "plan.txt").read_text()


def test_markdown_plan_is_unchanged() -> None:
    assert render_markdown(plan()) == (GOLDEN / "plan.md").read_text()
