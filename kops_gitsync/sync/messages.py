"""Commit messages that say what changed in the store, grouped by cluster.

Trailers identify kops-gitsync's own commits (hooks and the daemon read them), and the body
counts what was kept out of git so a reviewer knows the mirror is deliberately partial.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from kops_gitsync.sync.policy import cluster_of

TRAILER_STORE = "Kops-Gitsync-Store"
TRAILER_OPERATION = "Kops-Gitsync-Operation"
TRAILER_URL = "Kops-Gitsync-State"
TRAILER_SOURCE = "Kops-Gitsync-Source"  # on a push's observed commit: the pushed commit


def _grouped(changes: Sequence[tuple[str, str]]) -> list[str]:
    by_cluster: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for mark, key in changes:
        by_cluster[cluster_of(key) or "(store root)"].append((mark, key))
    lines = []
    for cluster in sorted(by_cluster):
        lines.append(f"{cluster}:")
        for mark, key in sorted(by_cluster[cluster], key=lambda c: c[1]):
            cluster_prefix = cluster + "/"
            shown = key[len(cluster_prefix) :] if key.startswith(cluster_prefix) else key
            lines.append(f"  {mark} {shown}")
    return lines


def counts_phrase(added: int, modified: int, deleted: int) -> str:
    parts = [f"{n} {word}" for n, word in ((added, "added"), (modified, "modified"),
                                           (deleted, "deleted")) if n]
    return ", ".join(parts) or "no content change"


def change_message(
    *,
    operation: str,
    store: str,
    url: str,
    added: Sequence[str],
    modified: Sequence[str],
    deleted: Sequence[str],
    withheld: Mapping[str, int],
    note: str = "",
) -> str:
    subject = f"{operation} {store}: {counts_phrase(len(added), len(modified), len(deleted))}"
    changes = (
        [("A", k) for k in added] + [("M", k) for k in modified] + [("D", k) for k in deleted]
    )
    body = _grouped(changes)
    if note:
        body += ["", note]
    if withheld:
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(withheld.items()))
        body += ["", f"Kept out of git (never mirrored): {parts}."]
    trailers = [
        f"{TRAILER_STORE}: {store}",
        f"{TRAILER_OPERATION}: {operation}",
        f"{TRAILER_URL}: {url}",
    ]
    return "\n".join([subject, "", *body, "", *trailers]) + "\n"
