"""``spec.configBase``: where kops keeps a cluster's files, and every other field that names
a store.

kops stores a Cluster at ``<state store>/<name>/config`` but, once it has read it, finds the
cluster's keys (``pki/``), secrets and completed spec (what nodes boot from) at the
``spec.configBase`` the object names (kops' ``registry.ConfigBase``; issue #2919: a cluster
copied to another store keeps using the old one). So moving a cluster means rewriting
that one field, and anything else that names the old store (``secretStore``, ``keyStore``,
etcd ``backupStore``, ``serviceAccountIssuerDiscovery.discoveryStore`` ...) is something the
operator must decide about, not something to rewrite silently.

The rewrite is a minimal text edit of the one line (its quoting and comment kept), checked by
decoding both versions: every byte outside that value stays as it was, and a document whose
``configBase`` is not a plain one-line scalar is refused rather than re-serialised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kops_gitsync.errors import FatalError
from kops_gitsync.yamlplain import YamlProblem, load_plain

_LINE = re.compile(
    rb"^(?P<head>[ \t]+configBase:[ \t]*)(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s#'\"][^\n#]*?)"
    rb"(?P<tail>[ \t]*(?:#[^\n]*)?)$",
    re.MULTILINE,
)
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~:/@%+=,-]*$")


def trim(url: str) -> str:
    return url.rstrip("/")


def store_forms(url: str) -> list[str]:
    """The spellings of one store URL a spec may hold (a local path is also ``file://``)."""
    url = trim(url)
    if url.startswith("file://"):
        return [url, url[len("file://"):]]
    if "://" not in url:
        return [url, "file://" + url]
    return [url]


def expected_config_base(store_url: str, cluster: str) -> str:
    """What kops writes as configBase for ``cluster`` created in ``store_url``."""
    url = trim(store_url)
    if "://" not in url:
        url = "file://" + url
    return f"{url}/{cluster}"


def _load(data: bytes, where: str) -> Any:
    """Decoded as the semantic diff decodes (yamlplain.py): an alias bomb is refused, not
    walked by ``references``."""
    try:
        return load_plain(data)
    except YamlProblem as exc:
        raise FatalError(f"{where}: {exc}") from None


def config_base_of(data: bytes, where: str) -> str | None:
    doc = _load(data, where)
    spec = doc.get("spec") if isinstance(doc, dict) else None
    value = spec.get("configBase") if isinstance(spec, dict) else None
    return value if isinstance(value, str) else None


def _quoted(style: bytes, value: str) -> bytes:
    if style.startswith(b'"'):
        return json.dumps(value).encode()
    if style.startswith(b"'") or not _PLAIN_SAFE.match(value):
        return ("'" + value.replace("'", "''") + "'").encode()
    return value.encode()


def rewrite_config_base(data: bytes, new: str, where: str) -> tuple[bytes, str | None]:
    """``data`` with ``spec.configBase`` set to ``new``, and the value it had.

    No configBase: returned unchanged with None (kops derives it from the store it reads the
    Cluster from, so there is nothing that could point elsewhere).
    """
    doc = _load(data, where)
    old = config_base_of(data, where)
    if old is None:
        return data, None
    if old == new:
        return data, old
    candidates = [m for m in _LINE.finditer(data)
                  if _load(b"v: " + m.group("value"), where).get("v") == old]
    if len(candidates) == 1:
        match = candidates[0]
        value = _quoted(match.group("value"), new)
        edited = data[:match.start("value")] + value + data[match.end("value"):]
        expected = doc
        expected["spec"]["configBase"] = new
        if _load(edited, where) == expected:
            return edited, old
    raise FatalError(
        f"{where}: cannot rewrite spec.configBase ({old}) as a one-line edit (written in flow "
        f"style or over several lines?); set it to {new} by hand and run migrate again"
    )


@dataclass(frozen=True)
class StoreReference:
    path: str  # spec.etcdClusters[0].backups.backupStore
    value: str


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")
    else:
        yield path, node


def references(data: bytes, bases: list[str], where: str) -> list[StoreReference]:
    """Every string in the decoded object (but ``spec.configBase``) naming one of ``bases``."""
    doc = _load(data, where)
    forms = [f for base in bases for f in store_forms(base)]
    found = []
    for path, value in _walk(doc, ""):
        if path == "spec.configBase" or not isinstance(value, str):
            continue
        if any(value == f or value.startswith(f + "/") for f in forms):
            found.append(StoreReference(path, value))
    return found


def mismatch(store_url: str, cluster: str, data: bytes, where: str) -> str | None:
    """kops #2919: the Cluster is stored in ``store_url`` but its configBase is elsewhere.

    Not for ``k8s://``: the kops API holds only the Cluster and InstanceGroup objects, so
    there configBase names another store by design."""
    if store_url.startswith("k8s:"):
        return None
    try:
        base = config_base_of(data, where)
    except FatalError:
        return None  # the YAML checks report a broken file; this is about where it points
    if base is None:
        return None
    expected = expected_config_base(store_url, cluster)
    if trim(base) in (trim(expected), *(f"{f}/{cluster}" for f in store_forms(store_url))):
        return None
    return (
        f"cluster {cluster} is stored in {trim(store_url)} but its spec.configBase is {base}: "
        f"kops reads this Cluster from {trim(store_url)}, yet reads and writes its keys, "
        f"secrets and the completed spec the nodes boot from at {base} (kops issue #2919). "
        f"If the cluster moved, set configBase to {expected} (kops-gitsync migrate does) and "
        "run `kops update cluster --yes`; otherwise use the store configBase names"
    )


def config_base_line(data: bytes) -> int:
    """1-based line of the ``configBase:`` key (0 if not found), for a finding's position."""
    match = _LINE.search(data)
    return data.count(b"\n", 0, match.start()) + 1 if match else 0


def store_mismatches(store_url: str, configs: dict[str, bytes]) -> list[tuple[str, str]]:
    """(cluster, warning) for every ``<cluster>/config`` in ``configs`` whose configBase
    names another place than where it is stored."""
    found = []
    for key, data in sorted(configs.items()):
        cluster, _, name = key.partition("/")
        if name == "config":
            problem = mismatch(store_url, cluster, data, key)
            if problem:
                found.append((cluster, problem))
    return found
