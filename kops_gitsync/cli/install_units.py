"""``kops-gitsync install-units``: the systemd units and the credentials example, from the
installed package.

The units ship as package data (``kops_gitsync/systemd/``) because a wheel carries no
top-level folder of the source tree; this verb writes them where systemd looks, with
``ExecStart`` naming the ``kops-gitsync`` this very installation provides (a virtualenv's
script works without being on anybody's PATH). It never starts anything and never runs
``systemctl``: ``--prefix`` may be a staging folder for an image or a configuration tool.

A unit that is already there with other content is not replaced without ``--force``: local
changes belong in a drop-in (``systemctl edit``), and silently losing one would be worse than
a one-line refusal. The credentials file itself is never written, only its example.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kops_gitsync.errors import FatalError

UNITS = ("kops-gitsync.service", "kops-gitsync@.service")
ENV_EXAMPLE = "kops-gitsync.env.example"
# The ExecStart path written in the packaged units; replaced by the real one on install.
PACKAGED_EXECUTABLE = "/opt/kops-gitsync/bin/kops-gitsync"
UNIT_DIR = Path("etc/systemd/system")
CONFIG_DIR = Path("etc/kops-gitsync")


def packaged(name: str) -> str:
    """The text of one file of ``kops_gitsync/systemd/`` as the package ships it."""
    return resources.files("kops_gitsync").joinpath("systemd", name).read_text(encoding="utf-8")


def default_executable() -> str:
    """The ``kops-gitsync`` script beside the running Python (a venv's bin/), if there is one."""
    script = Path(sys.executable).parent / "kops-gitsync"
    return str(script) if script.is_file() else PACKAGED_EXECUTABLE


@dataclass(frozen=True)
class Planned:
    path: Path
    text: str
    mode: int
    action: str  # "create", "replace", "unchanged", "differs"


def plan(prefix: Path, executable: str) -> list[Planned]:
    """What installing under ``prefix`` would write, and what is there now."""
    if not executable.startswith("/") or any(c.isspace() for c in executable):
        raise FatalError(
            f"--executable {executable!r}: systemd needs an absolute path without spaces"
        )
    files = [(UNIT_DIR / name, packaged(name).replace(PACKAGED_EXECUTABLE, executable), 0o644)
             for name in UNITS]
    files.append((CONFIG_DIR / ENV_EXAMPLE, packaged(ENV_EXAMPLE), 0o640))
    result = []
    for relative, text, mode in files:
        path = prefix / relative
        if not path.exists():
            action = "create"
        elif path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
            action = "unchanged"
        else:
            action = "differs"
        result.append(Planned(path, text, mode, action))
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", type=Path, default=Path("/"),
                        help="root to install under (default /): PREFIX/etc/systemd/system, "
                             "PREFIX/etc/kops-gitsync")
    parser.add_argument("--executable", default=None,
                        help="the kops-gitsync the units run (default: this installation's, "
                             f"else {PACKAGED_EXECUTABLE})")
    parser.add_argument("--force", action="store_true",
                        help="replace units that differ from the packaged ones")
    parser.add_argument("--dry-run", action="store_true", help="say what would be written")


def run(args: argparse.Namespace) -> int:
    executable = args.executable or default_executable()
    planned = plan(args.prefix, executable)
    differing = [p for p in planned if p.action == "differs"]
    if differing and not args.force and not args.dry_run:
        raise FatalError(
            f"{differing[0].path} differs from the packaged file; keep local changes in a "
            "drop-in (systemctl edit kops-gitsync), or pass --force to replace it"
        )
    for item in planned:
        action = "replace" if item.action == "differs" else item.action
        if args.dry_run:
            action = f"would {action}" if action != "unchanged" else action
        elif item.action != "unchanged":
            # /etc/kops-gitsync will hold credentials: not world-readable from the start.
            private = item.path.parent.name == CONFIG_DIR.name
            item.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750 if private else 0o755)
            tmp = item.path.with_name(f".{item.path.name}.tmp")
            tmp.write_text(item.text, encoding="utf-8")
            os.chmod(tmp, item.mode)
            os.replace(tmp, item.path)
        print(f"{action}: {item.path}")
    print(f"ExecStart runs {executable}")
    if not args.dry_run:
        config = args.prefix / CONFIG_DIR
        print("next: useradd --system --home-dir /var/lib/kops-gitsync --create-home "
              "kops-gitsync; clone the review repository to /var/lib/kops-gitsync/repo; "
              f"copy {config / ENV_EXAMPLE} to {config / 'kops-gitsync.env'} (mode 0640) "
              "and fill it in; systemctl daemon-reload; systemctl enable --now kops-gitsync")
    return 0
