"""``kops-gitsync hook <name> [files...]``: the one entry point of every check.

Both ``.pre-commit-hooks.yaml`` (which passes the files) and the plain scripts in ``hooks/``
(which pass none, so the hook asks git what the commit, merge or push changes) call this.
Only the chosen hook module is imported, for start-up time.

``checks`` (pre-commit id ``kops-checks``) is every check of the stage in one process: one
interpreter start, one config load, one read of the index for all of them. pre-commit gives
it no file list (a 25,000-file list is split into batches, each a process that redid the
whole-change work), so it judges what git is committing, merging or pushing; run by hand
or in CI (``pre-commit run [--all-files]``: no git hook, no ``--from-ref``) it judges every
file in the index, which is what a CI job wants.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import STAGES, HookContext

# hook name (with or without the "kops-" prefix of .pre-commit-hooks.yaml) -> module
HOOKS = {
    "validate": "validate",
    "validate-merge": "validate_merge",
    "protect-production": "protect_production",
    "no-secrets": "no_secrets",
    "no-derived-edits": "no_derived_edits",
}
# ``checks``: what each stage runs, the plain git hooks' lists.
COMBINED = {
    "commit": ("no-secrets", "no-derived-edits", "protect-production", "validate"),
    "merge": ("no-secrets", "no-derived-edits", "protect-production", "validate-merge"),
    "push": ("protect-production",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", help=f"checks (all of the stage) or one of {', '.join(HOOKS)}; several: a,b"
    )
    parser.add_argument("files", nargs="*", help="repository paths (default: what git stages)")
    parser.add_argument(
        "--stage",
        choices=STAGES,
        help="commit, merge or push (default: guessed from MERGE_HEAD and pre-commit)",
    )
    parser.add_argument(
        "--pre-push",
        metavar="REMOTE",
        help="read pre-push ref lines from stdin; REMOTE is the hook's first argument",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="validation warnings block too (unknown fields, forms kops accepts but drops)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="judge every file in the index, not just what the commit changes",
    )


def _stage(args: argparse.Namespace, root: Path) -> str:
    if args.stage:
        return str(args.stage)
    if args.pre_push is not None or os.environ.get("PRE_COMMIT_REMOTE_BRANCH"):
        return "push"
    return "merge" if staged.merge_heads(root) else "commit"


def _repo_paths(files: list[str], cwd: Path, root: Path) -> list[str]:
    """The arguments as paths relative to the root, so they match the index.

    pre-commit runs from the repository root, and git hooks too; a person may not. A path
    that leads out of the repository (``../../etc/passwd`` from a sub-folder) is refused by
    name: it used to end in a ValueError traceback.
    """
    from kops_gitsync.errors import FatalError

    found = []
    for name in files:
        if cwd == root and not os.path.isabs(name) and ".." not in Path(name).parts:
            found.append(name)
            continue
        path = Path(os.path.normpath(cwd / name))  # lexical: a link is a path in the index
        try:
            found.append(path.relative_to(root).as_posix())
        except ValueError:
            raise FatalError(f"{name}: outside the repository {root}") from None
    return found


def _whole_repo(args: argparse.Namespace, stage: str) -> bool:
    """``--all``, or ``checks`` run by ``pre-commit run`` by hand or in CI.

    git sets GIT_INDEX_FILE for the commit and merge hooks; pre-commit sets PRE_COMMIT for
    its hooks and PRE_COMMIT_FROM_REF for ``--from-ref`` and pushes. pre-commit passes no
    file list to ``checks``, so this is the only way to tell ``--all-files`` from a commit.
    """
    if args.all:
        return True
    env = os.environ
    return (
        args.name in ("checks", "kops-checks")
        and stage == "commit"
        and not args.files
        and bool(env.get("PRE_COMMIT"))
        and not env.get("GIT_INDEX_FILE")
        and not env.get("PRE_COMMIT_FROM_REF")
    )


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.errors import FatalError

    root = staged.repo_root()
    stage = _stage(args, root)
    # Several names, comma-separated, run in one process: the plain git hooks pay the
    # interpreter start and the config load once instead of once per check.
    names: list[str] = []
    for name in (n.removeprefix("kops-") for n in str(args.name).split(",") if n):
        names += COMBINED[stage] if name == "checks" else [name]
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in HOOKS]
    if unknown or not names:
        raise FatalError(f"unknown hook {args.name!r} (known: checks, {', '.join(HOOKS)})")
    files = _repo_paths(args.files, Path.cwd(), root)
    ctx = HookContext(root=root, files=files, stage=stage, whole_repo=_whole_repo(args, stage),
                      strict=args.strict)
    if args.pre_push is not None:
        ctx.push_refs = staged.parse_push_lines(sys.stdin.read())
        ctx.push_remote = args.pre_push
    failed = []
    try:
        for name in names:
            module = importlib.import_module(f"kops_gitsync.hooks.{HOOKS[name]}")
            if module.run(ctx) != 0:
                failed.append(name)
    finally:
        ctx.reader.close()
    if failed and len(names) > 1:
        print(f"kops-gitsync: failed: {', '.join(f'kops-{n}' for n in failed)}", file=sys.stderr)
    return 1 if failed else 0
