"""What ``kops update cluster`` adds (strict mode): an image on every IG, sizes on CloudGroups.

kops stores IGs without these all the time: ``PopulateInstanceGroupSpec`` fills a missing
``image`` from the channel and missing sizes with its defaults (1 for control-plane and
bastion IGs, 2 for nodes) before it validates strictly, so an unset field does not make
the update fail. They are warnings, never errors: the object is valid, but what runs is
decided by the kops version and channel at update time, and it changes when they do
(a rolling update nobody reviewed). Pinning the value in git makes that a reviewed change.
Karpenter-managed IGs have no autoscaling-group sizes, so only CloudGroup IGs (the
default manager) are asked for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from kops_gitsync.validate.issues import Issue
from kops_gitsync.validate.rules.base import ClusterView, as_str, ig_issue, ig_spec
from kops_gitsync.validate.rules.catalog import rule

_STRICT = ("pkg/apis/kops/validation/instancegroup.go: ValidateInstanceGroup (strict);"
           " defaults: upup/pkg/fi/cloudup/populate_instancegroup_spec.go")
CLOUD_GROUP = "CloudGroup"

IG_IMAGE_UNSET = rule(
    "ig-image-unset",
    "kops update picks the image from its channel when none is set, so the OS changes with"
    " the kops version instead of in review (warning)",
    "set spec.image (e.g. the image kops get ig -o yaml --full shows today)", _STRICT)
IG_SIZE_UNSET = rule(
    "ig-size-unset",
    "kops update fills unset minSize/maxSize of a CloudGroup IG with defaults, so its size"
    " is not what the file says (warning)",
    "set spec.minSize and spec.maxSize", _STRICT)


def check_strict_instance_groups(view: ClusterView) -> Iterator[Issue]:
    for file_name, ig in sorted(view.igs.items()):
        spec = ig_spec(ig)
        if not as_str(spec.get("image")):
            yield ig_issue(file_name, IG_IMAGE_UNSET, ("spec",),
                           "spec.image is not set; kops update will use its channel's default"
                           " image, so set it to review image changes", at_key=True,
                           severity="warning")
        if (as_str(spec.get("manager")) or CLOUD_GROUP) != CLOUD_GROUP:
            continue
        for field in ("minSize", "maxSize"):
            if spec.get(field) is None:
                yield ig_issue(file_name, IG_SIZE_UNSET, ("spec",),
                               f"spec.{field} is not set; kops update will use its default,"
                               f" so set {field} to the size you mean", at_key=True,
                               severity="warning")


CHECKS = (check_strict_instance_groups,)
