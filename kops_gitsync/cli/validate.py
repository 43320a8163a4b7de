"""``kops-gitsync validate [PATH...]``: kops' rules on mirrored clusters, files or folders.

A PATH may be a store subtree (a folder holding ``<cluster>/config``), one cluster folder,
or single object files (``<cluster>/config``, ``<cluster>/instancegroup/<name>``). A single
file is still validated together with the rest of its cluster, since the rules that
matter most are cross-object, but only the findings in that file are printed. With no
PATH, the mirrored subtrees of the repository's configured stores are validated.

``--previous DIR`` names the state before the change, as a store root (``DIR/<cluster>``)
or, for one cluster, its folder; it turns on kops' update-only rules. Exit status 1 when
any finding is an error, so CI and hooks can gate on it; ``--strict`` makes every warning
(a check that goes further than kops) an error too.

Each cluster is checked against the schema of the kops minor its ``kops-version.txt``
names (the newest shipped when there is none); which one is printed on stderr (text) or
under ``schemas`` (json).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kops_gitsync.errors import FatalError

if TYPE_CHECKING:
    from kops_gitsync.validate import Finding

CONFIG_KEY = "config"
IG_DIR = "instancegroup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="store subtrees, cluster folders or object files (default: the configured stores)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (path:line:column: rule: message) or json")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings (where this goes further than kops) as errors")
    parser.add_argument("--previous", type=Path, metavar="DIR",
                        help="the state before the change (a store root, or one cluster"
                        " folder): enables the update-only rules")


@dataclass
class Target:
    """One cluster to validate; ``only`` limits the printed findings to some files."""

    folder: Path
    display: str
    only: set[str] | None = field(default=None)
    store_url: str | None = None  # the store it is mirrored from, when known


def _is_cluster_folder(folder: Path) -> bool:
    return (folder / CONFIG_KEY).is_file() or (folder / IG_DIR).is_dir()


def _add(targets: dict[Path, Target], folder: Path, display: str, key: str | None) -> None:
    target = targets.setdefault(folder.resolve(), Target(folder, display, set()))
    if key is None:
        target.only = None
    elif target.only is not None:
        target.only.add(key)


def targets_for(path: Path, targets: dict[Path, Target]) -> None:
    from kops_gitsync.validate.engine import cluster_folders

    display = str(path).rstrip("/") or str(path)
    if path.is_file():
        if path.name == CONFIG_KEY:
            _add(targets, path.parent, os.path.dirname(display) or ".", CONFIG_KEY)
        elif path.parent.name == IG_DIR:
            cluster = os.path.dirname(os.path.dirname(display)) or "."
            _add(targets, path.parent.parent, cluster, f"{IG_DIR}/{path.name}")
        else:
            raise FatalError(f"{path}: not a kops object path (expected <cluster>/config or"
                             " <cluster>/instancegroup/<name>)")
    elif path.is_dir():
        if _is_cluster_folder(path):
            _add(targets, path, display, None)
            return
        folders = cluster_folders(path)
        if not folders:
            raise FatalError(f"{path}: no kops cluster here (no <cluster>/config below it)")
        for folder in folders:
            _add(targets, folder, os.path.join(display, folder.name), None)
    else:
        raise FatalError(f"{path}: no such file or folder")


def _repo_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    raise FatalError("not inside a git repository: give the PATHs to validate")


def configured_targets(targets: dict[Path, Target]) -> None:
    from kops_gitsync.config.repo_config import load_repo_config

    cwd = Path.cwd()
    root = _repo_root(cwd)
    for store in load_repo_config(root).stores:
        folder = root / store.path
        if not folder.is_dir():
            print(f"kops-gitsync validate: store {store.name}: {store.path}/ is not mirrored"
                  " yet (run kops-gitsync pull)", file=sys.stderr)
            continue
        display = os.path.relpath(folder, cwd)
        from kops_gitsync.validate.engine import cluster_folders

        url = store.state or _pulled_from(root, store.name)
        for cluster in cluster_folders(folder):
            _add(targets, cluster, os.path.join(display, cluster.name), None)
            targets[cluster.resolve()].store_url = url


def _pulled_from(root: Path, store_name: str) -> str | None:
    """The URL in the store's sync state as this checkout has it (plain JSON, no git)."""
    import json

    from kops_gitsync.sync.syncstate import state_path

    try:
        url = json.loads((root / state_path(store_name)).read_text()).get("url")
    except (OSError, ValueError, AttributeError):
        return None
    return url if isinstance(url, str) else None


def store_finding(target: Target) -> list[Finding]:
    """kops #2919 as a warning: the cluster's configBase names another store."""
    from kops_gitsync.backup.configbase import config_base_line, mismatch
    from kops_gitsync.validate import Finding

    config = target.folder / CONFIG_KEY
    if target.store_url is None or not config.is_file():
        return []
    data = config.read_bytes()
    problem = mismatch(target.store_url, target.folder.name, data, str(config))
    if problem is None:
        return []
    return [Finding(f"{target.display}/{CONFIG_KEY}", config_base_line(data), 0,
                    "configbase-store", problem, severity="warning")]


def previous_files(previous: Path | None, target: Target, count: int) -> dict[str, bytes] | None:
    from kops_gitsync.validate.engine import read_cluster_folder

    if previous is None:
        return None
    if (previous / CONFIG_KEY).is_file():
        if count > 1:
            raise FatalError(f"--previous {previous} is one cluster folder but several"
                             " clusters are validated; give a store root instead")
        return read_cluster_folder(previous)
    folder = previous / target.folder.name
    return read_cluster_folder(folder) if folder.is_dir() else None


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.validate import validate_cluster
    from kops_gitsync.validate.engine import read_cluster_folder, schema_choice
    from kops_gitsync.validate.report import format_json, format_text, has_errors

    if args.previous is not None and not args.previous.is_dir():
        raise FatalError(f"--previous {args.previous}: not a folder")
    targets: dict[Path, Target] = {}
    for raw in args.paths:
        targets_for(Path(raw), targets)
    if not args.paths:
        configured_targets(targets)
    findings: list[Finding] = []
    schemas: dict[str, str] = {}
    for target in targets.values():
        before = previous_files(args.previous, target, len(targets))
        files = read_cluster_folder(target.folder, with_version=True)
        schemas[target.display] = schema_choice(files).describe()
        found = validate_cluster(target.display, files, before, strict=args.strict)
        if target.only is not None:
            wanted = {f"{target.display}/{key}" for key in target.only}
            found = [f for f in found if f.path in wanted]
        findings.extend(found)
        findings.extend(store_finding(target))
    if args.format == "json":
        sys.stdout.write(format_json(findings, clusters=len(targets), schemas=schemas))
    else:
        sys.stdout.write(format_text(findings))
        for display, schema in schemas.items():
            print(f"kops-gitsync validate: {display}: {schema}", file=sys.stderr)
        errors = sum(1 for f in findings if f.severity == "error")
        print(f"kops-gitsync validate: {len(targets)} cluster(s), {errors} error(s),"
              f" {len(findings) - errors} warning(s)", file=sys.stderr)
    return 1 if has_errors(findings) else 0
