"""The parsed cluster every rule looks at, small readers of kops' v1alpha2 fields, and
the table form of kops' "setting X needs Y" rules (``Requirement``).

Rules receive plain data (dicts, lists, scalars), never YAML nodes, so each rule is a pure
function that can be tested on a literal dict. Helpers here read fields the way kops'
v1alpha2 conversion does (``Master`` is the stored spelling of the control-plane role;
``cloudProvider`` is a string) and tolerate wrong types: the schema check reports those,
a rule must not crash on them.
"""

from __future__ import annotations

import ipaddress
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


def value_at(root: dict[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c`` under ``root``; None where a step is missing or not a mapping."""
    value: Any = root
    for step in dotted.split("."):
        value = as_dict(value).get(step)
    return value


def go_cidr(text: str, *, netip: bool = False) -> bool:
    """Go's ``net.ParseCIDR`` accepts ``text`` (host bits allowed; the prefix is a length).

    ``netip``: Go's stricter ``netip.ParsePrefix`` instead, which also refuses a zone
    (``fe80::1%eth0/64``) and a length with a leading zero (``/08``).
    """
    address, slash, length = text.partition("/")
    if not slash or not length.isdigit() or not length.isascii():
        return False
    if netip and ("%" in address or (len(length) > 1 and length.startswith("0"))):
        return False
    try:
        ipaddress.ip_network(f"{address}/{length}", strict=False)
    except ValueError:
        return False
    return True


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


# --- "setting X needs Y" ---------------------------------------------------------------

Test = Callable[[ClusterView, dict[str, Any]], bool]  # (the cluster, the block a table reads)


def field_on(dotted: str) -> Test:
    """The block's field is YAML ``true`` (kops reads a ``*bool``; the string "true" is not)."""
    return lambda _, block: value_at(block, dotted) is True


def spec_on(dotted: str) -> Test:
    """The Cluster spec's field is YAML ``true``: a prerequisite outside the block."""
    return lambda view, _: value_at(view.spec, dotted) is True


def any_of(*tests: Test) -> Test:
    return lambda view, block: any(test(view, block) for test in tests)


def negate(test: Test) -> Test:
    """For a setting that excludes another (kops: "cannot be used in conjunction with")."""
    return lambda view, block: not test(view, block)


def always(_: ClusterView, __: dict[str, Any]) -> bool:
    """For a requirement of a whole block (a networking provider that refuses IPv6)."""
    return True


@dataclass(frozen=True)
class Requirement:
    """One of kops' "setting ``path`` needs another field or a feature" refusals, as data.

    kops has dozens of these (an add-on that needs cert-manager, a Cilium option that needs
    another, a provider that needs AWS or IPv4); written out, each was the same three-line
    ``if``. As rows of a table they read like kops' rule list and cannot drift in shape.
    ``path`` is where the finding points, dotted from the block the table is read against,
    in the form the calling module turns into a YAML path; ``message`` is kops' words in the
    form that module prints. The setting counts as made when ``when`` holds (by default:
    the field at ``path`` is YAML ``true``), and only for kops ``since`` that minor.
    """

    path: str
    needs: Test
    message: str
    when: Test | None = None
    since: str = ""


def unmet(view: ClusterView, block: dict[str, Any],
          table: Iterable[Requirement]) -> Iterator[Requirement]:
    """The rows of ``table`` whose setting ``block`` makes without what it needs, in order."""
    for row in table:
        made = row.when or field_on(row.path)
        if (not row.since or view.kops_at_least(row.since)) and made(view, block) \
                and not row.needs(view, block):
            yield row
