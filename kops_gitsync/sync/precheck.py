"""Before push writes anything: the ``kops-validate`` hook's checks on the commit pushed.

The hooks are the gate a reviewer relies on, but ``git commit --no-verify``, a merge made
in a web UI or a repository without pre-commit installed all get past them. ``push`` is the
last point before kops reads the objects, so it judges what it is about to write with the
same code the hook runs (``hooks.validate.judge_cluster``: same strict YAML loading, same
schema, same kops rules, same "errors block, warnings do not"), never a copy of it.

Each cluster with a pushed key is validated as a whole, as it stands in the pushed commit,
because the rules that matter most are cross-object (an IG edit can be fine on its own and
name a subnet the Cluster no longer has). With ``base`` (the observed store state the commit
builds on) the update-only rules run too, comparing with what the store holds now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kops_gitsync.hooks.base import KOPS_VERSION_FILE, is_spec_key
from kops_gitsync.sync.context import SyncContext

if TYPE_CHECKING:  # the validation engine loads when a push is checked, not on import
    from kops_gitsync.gitrepo.repo import TreeEntry
    from kops_gitsync.validate.engine import Located

# Regular files only: a symbolic link or submodule in the mirror is refused by push itself.
_FILE_MODES = ("100644", "100755")


@dataclass(frozen=True)
class PushCheck:
    """The verdict on one push: error lines block it, warning lines are only shown."""

    clusters: tuple[str, ...]  # cluster names validated
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def refusal(self, store: str) -> str:
        """The FatalError text push stops with when ``not ok``."""
        lines = "\n".join(f"  {line}" for line in self.errors)
        count = len(self.errors)
        return (
            f"push to {store} stopped before writing anything: {count} validation"
            f" error{'s' if count != 1 else ''} in the pushed commit (the checks of the"
            f" kops-validate hook):\n{lines}\n"
            "Fix them in git and push again, or push anyway with --skip-validation."
        )


def clusters_of(keys: Iterable[str]) -> list[str]:
    """Clusters whose Cluster or InstanceGroup objects are among the store ``keys``."""
    found = set()
    for key in keys:
        cluster, sep, rest = key.partition("/")
        if cluster and sep and is_spec_key(rest) and not rest.endswith("/"):
            found.add(cluster)
    return sorted(found)


def check_push(
    ctx: SyncContext, commit: str, keys: Iterable[str], *, base: str | None = None,
    trees: tuple[Mapping[str, TreeEntry], Mapping[str, TreeEntry]] | None = None,
) -> PushCheck:
    """Validate every cluster a key of ``keys`` belongs to, as it is in ``commit``'s mirror.

    ``keys`` are store keys (``<cluster>/config``, ``<cluster>/instancegroup/<ig>``); pass
    the keys push deletes as well as those it writes, since deleting an IG an etcd member
    names breaks the cluster. Other keys are ignored (derived objects are not validated,
    as in the hook). ``base``: the commit whose mirror is the state before the change
    (``Sides.base_commit``); None skips the update-only rules. A cluster no longer in
    ``commit`` is being deleted and has nothing to validate. ``trees``: the mirror trees of
    ``commit`` and ``base`` (``GitRepo.read_tree(c, ctx.mirror_path)``) when the caller
    already has them: push does, and reading them again cost two ``git ls-tree`` per
    cluster (400 processes for a 200-cluster push).
    """
    from kops_gitsync.hooks.validate import blocks, judge_cluster

    clusters = clusters_of(keys)
    errors: list[str] = []
    warnings: list[str] = []
    if not clusters:
        return PushCheck((), (), ())
    ours_tree, base_tree = trees or (ctx.repo.read_tree(commit, ctx.mirror_path),
                                     ctx.repo.read_tree(base, ctx.mirror_path) if base else {})
    ours_specs, base_specs = _spec_entries(ours_tree), _spec_entries(base_tree)
    for cluster in clusters:
        cluster_dir = f"{ctx.mirror_path}/{cluster}" if ctx.mirror_path else cluster
        current = _read(ctx, ours_specs.get(cluster, {}))
        previous = _read(ctx, base_specs.get(cluster, {})) if current and base else {}
        for located in judge_cluster(cluster_dir, current, previous):
            (errors if blocks(located) else warnings).append(_describe(located))
    return PushCheck(tuple(clusters), tuple(errors), tuple(warnings))


def _describe(located: Located) -> str:
    """The hook's line with the field added: ``path:line:col: spec.maxSize: rule: message``.

    In a terminal, away from an editor that jumps to ``line:col``, the field path is what
    tells the reader which setting is wrong.
    """
    from kops_gitsync.validate.report import format_finding

    line = format_finding(located.finding)
    if not located.field:
        return line
    marker = f": {located.finding.rule}: "
    where, found, rest = line.partition(marker)
    if not found:
        return f"{line} [{located.field}]"
    return f"{where}: {located.field}{marker}{rest}"


def _spec_entries(mirror: Mapping[str, TreeEntry]) -> dict[str, dict[str, TreeEntry]]:
    """``config``, ``instancegroup/*`` and ``kops-version.txt`` (which picks the kops minor
    whose schema and rules judge the cluster, as in the hooks) entries of a mirror tree, by
    cluster, keyed by store key."""
    found: dict[str, dict[str, TreeEntry]] = {}
    for key, entry in mirror.items():
        cluster, sep, rel = key.partition("/")
        if sep and entry.mode in _FILE_MODES and (is_spec_key(rel)
                                                  or rel == KOPS_VERSION_FILE):
            found.setdefault(cluster, {})[key] = entry
    return found


def _read(ctx: SyncContext, entries: Mapping[str, TreeEntry]) -> dict[str, bytes]:
    """The blobs of ``entries`` by repository path (what the hook sees)."""
    prefix = f"{ctx.mirror_path}/" if ctx.mirror_path else ""
    return {f"{prefix}{key}": ctx.repo.read_blob(entry.sha) for key, entry in entries.items()}
