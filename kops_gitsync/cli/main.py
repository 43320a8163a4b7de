"""``kops-gitsync``: one small module per verb, looked up in a plain dict.

Each verb module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and is imported
only when its verb is used, so ``kops-gitsync validate`` in a hook never imports the sync
engine, GitPython or a cloud SDK. Every ``FatalError`` becomes one short line on stderr and
exit status 1; a traceback means a bug.

What the operating system or the user does to a command is not a bug either, and gets one
line too: Ctrl-C ("interrupted", status 130, as a shell reports SIGINT), an ``OSError`` such
as a full disk (naming the file), and bytes that are not UTF-8 where a file must be
(naming the file when the failing frame had it open).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import TracebackType

from kops_gitsync import __version__
from kops_gitsync.errors import FatalError, StoreError

# verb -> (module under kops_gitsync.cli, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "pull": ("pull", "mirror the state store into git (commits on the observed ref, then merges)"),
    "push": ("push", "write approved commits back to the store (dry run unless --yes)"),
    "diff": ("diff", "the semantic plan of a change: fields, risks (git only, no store)"),
    "status": ("status", "store ahead / git ahead / conflicts, per store"),
    "log": ("log", "the observed changes of one store object, and who wrote it last"),
    "unlock": ("unlock", "show and remove a kops-gitsync lock left in a store"),
    "validate": ("validate", "check Cluster and InstanceGroup objects against kops' rules"),
    "install-hooks": ("install_hooks", "install plain git hooks and the YAML merge driver"),
    "install-units": ("install_units", "write the systemd units and credentials example"),
    "migrate": ("migrate", "copy clusters to another state store, configBase rewritten"),
    "restore": ("restore", "rebuild a store or one cluster from a commit (dry run unless --yes)"),
    "offline-copy": ("offline_copy", "copy a mirror with configBase pointing at the copy"),
    "merge-driver": ("merge_driver", "three-way structural merge of kops YAML (used by git)"),
    "hook": ("hook", "run one pre-commit check (used by the hooks)"),
    "daemon": ("daemon", "keep stores mirrored and push approved branches, unattended"),
}


def _load(module_name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"kops_gitsync.cli.{module_name}")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    verb = chosen if chosen in VERBS else None
    try:
        return _dispatch(args_list, chosen)
    except KeyboardInterrupt:
        return _interrupted(verb)
    except BrokenPipeError:  # `kops-gitsync status | head`: the reader left, nothing to say
        _quiet_stdout()
        return 1
    except OSError as exc:
        _say(verb, f"error: {_describe_os_error(exc)}")
        return 1
    except UnicodeDecodeError as exc:
        where = _open_file_in(exc.__traceback__)
        what = f"{where} is not UTF-8 text" if where else "a file is not UTF-8 text"
        _say(verb, f"error: {what} (byte 0x{exc.object[exc.start]:02x} at offset "
                   f"{exc.start}); it may be damaged")
        return 1


def _dispatch(args_list: list[str], chosen: str | None) -> int:
    parser = argparse.ArgumentParser(prog="kops-gitsync")
    parser.add_argument("--version", action="version", version=f"kops-gitsync {__version__}")
    # A known verb gets only its own parser: every hook run is this start-up, and building
    # the other fourteen cost it a few ms (issue 16). Its usage and errors are the same.
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb, (module_name, help_text) in VERBS.items():
        if chosen in VERBS and verb != chosen:
            continue
        verb_parser = sub.add_parser(verb, help=help_text, description=help_text)
        verb_parser.set_defaults(_module=module_name)
        if verb == chosen:
            _load(module_name).add_arguments(verb_parser)
    args, extra = parser.parse_known_args(args_list)
    if (extra and args.verb == "hook" and getattr(args, "files", None) == []
            and not any(item.startswith("-") for item in extra)):
        # pre-commit runs `hook NAME --strict FILE...` (the hook's args, then the files), and
        # argparse before Python 3.12 fills `files` (nargs="*") before it sees the option.
        args.files = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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


def _say(verb: str | None, message: str) -> None:
    prefix = f"kops-gitsync {verb}" if verb else "kops-gitsync"
    print(f"{prefix}: {message}", file=sys.stderr, flush=True)


def _interrupted(verb: str | None) -> int:
    """One line, status 130. Reader threads still blocked in a network call would keep the
    interpreter alive until their timeouts run out (it joins them at exit), so with any
    left the process ends at once: everything that must be undone on the way out (the store
    lock, temporary files) ran in ``finally`` blocks before the interrupt got here."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends it, no traceback
    _say(verb, "interrupted")
    if threading.active_count() > 1 and threading.current_thread() is threading.main_thread():
        sys.stdout.flush()
        os._exit(130)
    return 130


def _quiet_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is silent."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _describe_os_error(exc: OSError) -> str:
    """``No space left on device: /repo/.git/kops-gitsync/journal-default.tmp``.

    Python names the file only when the failing call had a path (``open``, ``rename``); a
    ``write`` or ``close`` on a full disk has none, so the open file of the failing frame
    supplies it."""
    what = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    if not names and exc.strerror:
        found = _open_file_in(exc.__traceback__)
        names = [found] if found else []
    if not names and not exc.strerror and exc.args:  # FileNotFoundError(key) from a store
        return f"{type(exc).__name__}: {exc}"
    return f"{what}: {' -> '.join(names)}" if names else what


def _open_file_in(tb: TracebackType | None) -> str | None:
    """The name of a file object (or, failing that, a path) that the innermost frame of
    ``tb`` holds in a local variable: the file a read or write was failing on."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        values = list(frame.f_locals.values())
        for value in values:
            name = getattr(value, "name", None) if isinstance(value, io.IOBase) else None
            if isinstance(name, str):
                return name
        for value in values:
            if isinstance(value, os.PathLike):
                return os.fsdecode(value)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
