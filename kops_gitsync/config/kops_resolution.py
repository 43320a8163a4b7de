"""Which state store kops itself would use, resolved exactly as kops resolves it.

Order (``cmd/kops/root.go``): the ``--state`` flag, then ``KOPS_STATE_STORE``, then the first
existing config file of ``$HOME/.kops.yaml`` and ``$HOME/.kops/config``, whose key is
``kops_state_store`` (viper keys ignore case). kops removes exactly one trailing ``/``.
Operators switch between kops and kops-gitsync all day; any other order would sync a
different store than the one kops just showed them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kops_gitsync.errors import FatalError

CONFIG_FILES = (".kops.yaml", ".kops/config")


def _from_config_file(home: Path) -> tuple[str | None, Path | None]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    for rel in CONFIG_FILES:
        path = home / rel
        if not path.is_file():
            continue
        try:
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YAMLError):
            # kops only warns on an unreadable config file, and so do we: fall through.
            return None, path
        if isinstance(data, Mapping):
            for key, value in data.items():
                if str(key).lower() == "kops_state_store" and value:
                    return str(value), path
        return None, path
    return None, None


def trim_trailing_slash(url: str) -> str:
    """kops' ``strings.TrimSuffix(url, "/")``: one slash only, so ``s3://b//`` stays ``s3://b/``."""
    return url[:-1] if url.endswith("/") else url


def resolve_state_store(flag: str | None, env: Mapping[str, str], home: Path) -> tuple[str, str]:
    """Return (url, where it came from), or raise naming all four places."""
    if flag:
        return trim_trailing_slash(flag), "--state"
    if env.get("KOPS_STATE_STORE"):
        return trim_trailing_slash(env["KOPS_STATE_STORE"]), "KOPS_STATE_STORE"
    value, path = _from_config_file(home)
    if value:
        return trim_trailing_slash(value), f"{path} (kops_state_store)"
    raise FatalError(
        "no state store given: set one with --state, the KOPS_STATE_STORE environment "
        f"variable, kops_state_store in {home / CONFIG_FILES[0]} or in "
        f"{home / CONFIG_FILES[1]} (format: s3://<bucket>, see kops.sigs.k8s.io/state)"
    )
