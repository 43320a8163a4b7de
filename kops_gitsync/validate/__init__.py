"""kops-aware validation of Cluster and InstanceGroup objects, cluster by cluster.

This is the API the hooks, the merge checks and ``kops-gitsync validate`` share. It is
imported on every commit, so this module imports nothing heavy: the YAML parser, the JSON
Schema library and the rules load on the first call, not on import.

A cluster is validated as a whole (``config`` plus every ``instancegroup/<name>``), because
kops' most expensive surprises are cross-object: an IG naming a subnet the Cluster lacks is
stored by ``kops replace`` without complaint and only fails at ``kops update cluster``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotation only: keep the import of this module minimal
    from pathlib import Path

__all__ = ["Finding", "validate_cluster", "validate_tree"]


@dataclass(frozen=True)
class Finding:
    """One problem, printed as ``path:line:column: rule: message``."""

    path: str  # file path as given/displayed
    line: int  # 1-based, 0 if unknown
    column: int  # 1-based, 0 if unknown
    rule: str  # rule id, e.g. "ig-subnet-exists"
    message: str  # one line: what is wrong and the fix
    severity: str = "error"  # or "warning"


def validate_cluster(
    cluster_dir: str,
    files: Mapping[str, bytes],
    previous: Mapping[str, bytes] | None = None,
    *,
    strict: bool = False,
) -> list[Finding]:
    """Validate one cluster folder's objects.

    ``files`` keys are relative to the cluster folder (``"config"``,
    ``"instancegroup/nodes"``, and ``"kops-version.txt"``, which picks the kops minor whose
    schema is used; other keys are ignored). ``cluster_dir`` is the displayed folder path;
    its last segment is the cluster name, checked against ``metadata.name``, and findings
    name ``f"{cluster_dir}/{key}"``. ``previous`` is the same cluster before the change;
    when given, kops' update-only rules run too. ``strict`` makes warnings errors.
    """
    from kops_gitsync.validate.engine import check_cluster

    return check_cluster(cluster_dir, files, previous, strict=strict)


def validate_tree(
    root: Path, previous_root: Path | None = None, *, strict: bool = False
) -> list[Finding]:
    """Every cluster folder under a store root (a folder holding ``<cluster>/config``)."""
    from kops_gitsync.validate.engine import check_tree

    return check_tree(root, previous_root, strict=strict)
