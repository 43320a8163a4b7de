"""yamlplain.py: the one hardened YAML decoding review/ and backup/ share.

backup/configbase.py had its own ``yaml.safe_load`` and walked the result, so an
alias-bomb Cluster config made ``migrate`` (references()) walk ~10^9 nodes; it now
stops at the same node budget as the semantic diff."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kops_gitsync.errors import FatalError


def _alias_bomb() -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("spec: {configBase: s3://b/c, x: *a8}")
    return "\n".join(lines).encode()


def test_store_references_of_an_alias_bomb_fail_fast() -> None:
    """A subprocess, so a regression is a timeout, not a hung test run."""
    code = textwrap.dedent("""
        import sys
        from kops_gitsync.backup.configbase import references
        from kops_gitsync.errors import FatalError
        try:
            references(sys.stdin.buffer.read(), ["s3://b"], "c/config")
        except FatalError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], input=_alias_bomb(),
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("c/config: YAML too large or nested too deeply")


def test_configbase_and_review_decode_alike() -> None:
    from kops_gitsync.backup.configbase import config_base_of
    from kops_gitsync.review.fielddiff import decode

    data = b"spec:\n  configBase: s3://b/c\n  created: 2020-01-01\n"
    assert config_base_of(data, "c/config") == "s3://b/c"
    assert decode(data)[0] == {"spec": {"configBase": "s3://b/c", "created": "2020-01-01"}}
    with pytest.raises(FatalError, match=r"^c/config: not valid YAML \(line 2\)"):
        config_base_of(b"spec: [\n", "c/config")
