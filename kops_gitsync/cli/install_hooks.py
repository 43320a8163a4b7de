"""``kops-gitsync install-hooks``: plain git hooks and the YAML merge driver, for teams
without the pre-commit framework.

The hook scripts are rendered from one template here (``hooks/`` in the source tree holds
the same text, checked by a test), because an installed wheel carries no top-level
``hooks/`` folder. The installed copy names the exact command it was installed with, so the
hooks work from a virtualenv that is not on git's PATH. A hook that is not ours is never
overwritten: ``--chain`` moves it to ``<hook>.local``, which our script runs first.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import stat
import sys
from pathlib import Path

MARKER = "# kops-gitsync plain git hook"
DRIVER = "kops-yaml"

# hook type -> (what it checks, the kops-gitsync hook calls). ``checks`` is every check of
# the stage in one process (cli/hook.py COMBINED), as the kops-checks pre-commit hook runs.
HOOK_TYPES: dict[str, tuple[str, str]] = {
    "pre-commit": ("what this commit stages", "run hook checks --stage commit\n"),
    "pre-merge-commit": ("the result of this merge", "run hook checks --stage merge\n"),
    "pre-push": (
        "the branches being pushed (git's ref lines on stdin)",
        # A here-document, not a pipe: a pipe would run `run` in a subshell and lose status.
        'run hook checks --stage push --pre-push "$1" <<EOF\n$refs\nEOF\n',
    ),
}

_TEMPLATE = """#!/bin/sh
{marker}: {hook_type}
# Checks {what} with kops-gitsync. Installed by `kops-gitsync install-hooks`;
# a hook that was here before lives on as {hook_type}.local and runs first.
# Skip once with `git commit --no-verify` / `git push --no-verify`.
kops_gitsync_command() {{ {command} "$@"; }}

status=0
run() {{ kops_gitsync_command "$@" || status=1; }}
{stdin}if [ -x "$0.local" ]; then
  {chain} || exit $?
fi
{calls}exit $status
"""


def render_hook(hook_type: str, command: str = '"${KOPS_GITSYNC:-kops-gitsync}"') -> str:
    what, calls = HOOK_TYPES[hook_type]
    push = hook_type == "pre-push"
    return _TEMPLATE.format(
        marker=MARKER,
        hook_type=hook_type,
        what=what,
        command=command,
        stdin="refs=$(cat)\n" if push else "",
        chain='printf \'%s\\n\' "$refs" | "$0.local" "$@"' if push else '"$0.local" "$@"',
        calls=calls,
    )


def installed_command() -> list[str]:
    """The words that run this very kops-gitsync, wherever git runs the hook."""
    script = Path(sys.executable).parent / "kops-gitsync"
    if script.exists():
        return [str(script)]
    found = shutil.which("kops-gitsync")
    if found:
        return [found]
    return [sys.executable, "-m", "kops_gitsync"]


def _hook_command(words: list[str]) -> str:
    """Shell text for the hook; $KOPS_GITSYNC still overrides a plain single path."""
    if len(words) == 1 and shlex.quote(words[0]) == words[0]:
        return f'"${{KOPS_GITSYNC:-{words[0]}}}"'
    return shlex.join(words)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chain",
        action="store_true",
        help="keep an existing foreign hook as <hook>.local and run it before ours",
    )
    parser.add_argument("--no-merge-driver", action="store_true", help="install the hooks only")


def _install_hook(hooks_dir: Path, hook_type: str, command: list[str], chain: bool) -> str:
    target = hooks_dir / hook_type
    text = render_hook(hook_type, _hook_command(command))
    if target.exists() or target.is_symlink():
        current = target.read_text(errors="replace") if target.is_file() else ""
        if MARKER not in current:
            local = target.with_name(f"{hook_type}.local")
            if not chain:
                return f"kept foreign {target} (rerun with --chain to run it before ours)"
            if local.exists():
                return f"kept foreign {target}: {local.name} already exists"
            target.rename(local)
    hooks_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return ""


def attribute_lines(store_paths: list[str]) -> list[str]:
    lines = []
    for path in store_paths:
        base = path.strip("/")
        lines.append(f"/{base}/*/config merge={DRIVER}")
        lines.append(f"/{base}/*/instancegroup/* merge={DRIVER}")
    return lines


def _install_merge_driver(root: Path, command: list[str]) -> None:
    from kops_gitsync.config.repo_config import load_repo_config
    from kops_gitsync.gitrepo import staged

    stores = load_repo_config(root).stores
    staged.git(
        ["config", f"merge.{DRIVER}.name", "kops-gitsync structural merge of kops YAML"], root
    )
    staged.git(
        ["config", f"merge.{DRIVER}.driver", f"{shlex.join(command)} merge-driver %O %A %B %P"],
        root,
    )
    attributes = root / ".gitattributes"
    existing = attributes.read_text().splitlines() if attributes.exists() else []
    missing = [line for line in attribute_lines([s.path for s in stores]) if line not in existing]
    if missing:
        header = (
            "# kops Cluster/InstanceGroup YAML: merged structurally (kops-gitsync install-hooks)"
        )
        block = ([] if not existing or existing[-1] == "" else [""]) + (
            [header] if header not in existing else []
        )
        attributes.write_text("\n".join([*existing, *block, *missing]) + "\n")


def run(args: argparse.Namespace) -> int:
    from kops_gitsync.gitrepo import staged

    root = staged.repo_root()
    hooks_dir = staged.hooks_dir(root)
    command = installed_command()
    problems = []
    for hook_type in HOOK_TYPES:
        problem = _install_hook(hooks_dir, hook_type, command, args.chain)
        if problem:
            problems.append(problem)
        else:
            print(f"installed {hooks_dir / hook_type}")
    if not args.no_merge_driver:
        _install_merge_driver(root, command)
        print(f"registered merge driver {DRIVER!r} in .git/config and .gitattributes")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0
