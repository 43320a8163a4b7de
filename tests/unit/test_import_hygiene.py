"""No import cycles, and the hooks' and validate's start-up import no heavy library.

Module-level imports are read from the source (``if TYPE_CHECKING:`` blocks skipped), so a
cycle is found even where import order happens to hide it today. The start-up check runs
the real entry points with ``--help`` and lists what they loaded."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "kops_gitsync"
HEAVY = ("boto3", "botocore", "google", "azure", "swiftclient", "keystoneauth1", "oss2",
         "pyrage", "detect_secrets", "git", "kubernetes")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    resolved = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def test_no_import_cycles() -> None:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _top_level_imports(path, set(paths)) for name, path in paths.items()}
    done: set[str] = set()

    def walk(name: str, stack: list[str]) -> None:
        if name in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(name):], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            walk(target, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])


@pytest.mark.parametrize("argv", [["hook", "checks", "--help"], ["validate", "--help"]])
def test_start_up_imports_nothing_heavy(argv: list[str]) -> None:
    probe = (
        "import sys\nfrom kops_gitsync.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
