"""The parsed cluster every rule looks at, and small readers of kops' v1alpha2 fields.

Rules receive plain data (dicts, lists, scalars), never YAML nodes, so each rule is a pure
function that can be tested on a literal dict. Helpers here read fields the way kops'
v1alpha2 conversion does (``Master`` is the stored spelling of the control-plane role;
``cloudProvider`` is a string) and tolerate wrong types: the schema check reports those,
a rule must not crash on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kops_gitsync.validate.issues import Issue

CONFIG_KEY = "config"
IG_PREFIX = "instancegroup/"
CONTROL_PLANE_ROLES = ("Master", "ControlPlane")
IG_ROLES = ("Master", "ControlPlane", "Node", "Bastion", "APIServer")


def is_object_key(key: str) -> bool:
    """``config`` or ``instancegroup/<name>``: the files a cluster is validated from."""
    if key == CONFIG_KEY:
        return True
    rest = key[len(IG_PREFIX) :] if key.startswith(IG_PREFIX) else ""
    return bool(rest) and "/" not in rest


def ig_key(name: str) -> str:
    return IG_PREFIX + name


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class ClusterView:
    """One cluster as parsed: the Cluster (None if missing or unreadable) and its IGs.

    ``igs`` maps the IG *file name* to its document; only files that loaded and are
    v1alpha2 appear, so rules never see half-read data. Cross-object rules that would
    claim an IG is missing first check ``all_igs_readable``.
    """

    name: str
    cluster: dict[str, Any] | None
    igs: dict[str, dict[str, Any]] = field(default_factory=dict)
    unchecked: tuple[str, ...] = ()  # object keys that loaded but are not v1alpha2
    ig_files: tuple[str, ...] = ()  # every IG file name given, readable or not
    kops_minor: str = ""  # the minor kops-version.txt names ("1.34"); "" = the newest

    def kops_at_least(self, minor: str) -> bool:
        """Whether the cluster's kops has a rule added in ``minor`` (newest kops when unknown).

        kops adds store-write rules in new minors; a cluster its mirror says is managed by an
        older kops must not be refused for what that kops stores.
        """
        if not self.kops_minor:
            return True
        try:
            have = tuple(int(part) for part in self.kops_minor.split("."))
            return have >= tuple(int(part) for part in minor.split("."))
        except ValueError:
            return True

    @property
    def all_igs_readable(self) -> bool:
        """False when some IG file is broken: "no such IG" findings would then mislead."""
        return set(self.ig_files) <= set(self.igs)

    @property
    def spec(self) -> dict[str, Any]:
        return as_dict((self.cluster or {}).get("spec"))

    @property
    def metadata(self) -> dict[str, Any]:
        return as_dict((self.cluster or {}).get("metadata"))

    @property
    def cloud(self) -> str:
        return as_str(self.spec.get("cloudProvider")).lower()

    @property
    def dns_type(self) -> str:
        """``Public``, ``Private`` or ``None``; kops defaults a missing DNS type to Public."""
        dns = as_dict(as_dict(self.spec.get("topology")).get("dns"))
        return as_str(dns.get("type")) or "Public"

    def subnets(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, subnet in enumerate(as_list(self.spec.get("subnets"))):
            if isinstance(subnet, dict):
                yield index, subnet

    def subnet_names(self) -> set[str]:
        return {as_str(s.get("name")) for _, s in self.subnets() if as_str(s.get("name"))}

    def networking(self) -> list[str]:
        """The networking options set (kops wants exactly one)."""
        # str(): a YAML key may be a number or null; the schema check reports that one
        return sorted(str(option) for option in as_dict(self.spec.get("networking")))

    def uses_networking(self, option: str) -> bool:
        return option in as_dict(self.spec.get("networking"))

    def etcd_clusters(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, etcd in enumerate(as_list(self.spec.get("etcdClusters"))):
            if isinstance(etcd, dict):
                yield index, etcd

    def control_plane_igs(self) -> list[str]:
        """Names (``metadata.name``, else the file name) of control-plane IGs."""
        return [ig_name(file, ig) for file, ig in sorted(self.igs.items()) if is_control_plane(ig)]

    def ig_names(self) -> set[str]:
        return {ig_name(file, ig) for file, ig in self.igs.items()}


def ig_spec(ig: dict[str, Any]) -> dict[str, Any]:
    return as_dict(ig.get("spec"))


def ig_name(file_name: str, ig: dict[str, Any]) -> str:
    return as_str(as_dict(ig.get("metadata")).get("name")) or file_name


def is_control_plane(ig: dict[str, Any]) -> bool:
    return ig_spec(ig).get("role") in CONTROL_PLANE_ROLES


Check = Callable[[ClusterView], Iterable[Issue]]
UpdateCheck = Callable[[ClusterView, ClusterView], Iterable[Issue]]


def cluster_issue(rule: str, path: tuple[str | int, ...], message: str, **kw: Any) -> Issue:
    """An issue in the Cluster object (``config``); ``path`` from the document root."""
    return Issue(rule, CONFIG_KEY, path, message, **kw)


def ig_issue(file_name: str, rule: str, path: tuple[str | int, ...], message: str,
             **kw: Any) -> Issue:
    """An issue in ``instancegroup/<file_name>``."""
    return Issue(rule, ig_key(file_name), path, message, **kw)
