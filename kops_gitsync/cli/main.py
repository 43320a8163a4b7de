"""``kops-gitsync``: one small module per verb, looked up in a plain dict.

Each verb module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and is imported
only when its verb is used, so ``kops-gitsync validate`` in a hook never imports the sync
engine, GitPython or a cloud SDK. Every ``FatalError`` becomes one short line on stderr and
exit status 1; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kops_gitsync import __version__
from kops_gitsync.errors import FatalError, StoreError

# verb -> (module under kops_gitsync.cli, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "pull": ("pull", "mirror the state store into git (commits on the observed ref, then merges)"),
    "push": ("push", "write approved commits back to the store (dry run unless --yes)"),
    "status": ("status", "store ahead / git ahead / conflicts, per store"),
    "unlock": ("unlock", "show and remove a kops-gitsync lock left in a store"),
    "validate": ("validate", "check Cluster and InstanceGroup objects against kops' rules"),
    "install-hooks": ("install_hooks", "install plain git hooks and the YAML merge driver"),
    "install-units": ("install_units", "write the systemd units and credentials example"),
    "offline-copy": ("offline_copy", "copy a mirror with configBase pointing at the copy"),
    "merge-driver": ("merge_driver", "three-way structural merge of kops YAML (used by git)"),
    "hook": ("hook", "run one pre-commit check (used by the hooks)"),
    "daemon": ("daemon", "keep stores mirrored and push approved branches, unattended"),
}


def _load(module_name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"kops_gitsync.cli.{module_name}")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="kops-gitsync")
    parser.add_argument("--version", action="version", version=f"kops-gitsync {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for verb, (module_name, help_text) in VERBS.items():
        verb_parser = sub.add_parser(verb, help=help_text, description=help_text)
        verb_parser.set_defaults(_module=module_name)
        if verb == chosen:
            _load(module_name).add_arguments(verb_parser)
    args = parser.parse_args(args_list)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        result: int = _load(args._module).run(args)
        return result
    except FatalError as exc:
        print(f"kops-gitsync {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"kops-gitsync {args.verb}: store error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"kops-gitsync {args.verb}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kops-gitsync {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
