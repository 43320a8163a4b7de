"""What a check reports before it is placed in a file: rule id, file key, YAML path, message.

Rules are pure functions of parsed documents and know nothing about lines and columns;
they name the YAML path they complain about and the engine turns that into
``path:line:column`` through the loader's position map. The loader, which does know
positions (a syntax error has no YAML path), fills ``line``/``column`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    rule: str
    key: str  # file key relative to the cluster folder: "config", "instancegroup/nodes"
    path: YamlPath  # where in the document; () for the whole file
    message: str
    line: int = 0  # 0: look the position up from ``path``
    column: int = 0
    severity: str = "error"
    at_key: bool = False  # point at the key naming ``path`` rather than at its value


def dotted(path: YamlPath) -> str:
    """``spec.subnets[0].cidr`` for ``("spec", "subnets", 0, "cidr")``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"
