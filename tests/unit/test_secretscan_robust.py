"""The scanner on hostile input: never raises, stays linear, imports its library lazily.

Pull scans every object it reads, whatever a store holds (etcd backups are binary, a user
may park a 50 MB log), and the hook scans whatever is staged; a traceback or a regex that
goes quadratic on one long line would stop both.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_gitsync.secretscan import findings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "store"

# Fragments that wake each rule up, so random input exercises the slow paths, not only the
# literal pre-filter that turns plain noise away.
TRIGGERS = [
    b"eyJ",
    b".ey",
    b"://",
    b":",
    b"@",
    b"password",
    b"PASSWORD=",
    b"token: ",
    b"secret",
    b"- name: DB_PASSWORD\n  value: ",
    b"value: ",
    b"name: ",
    b"Authorization: Bearer ",
    b"Basic ",
    b"AKIA",
    b"ghp_",
    b"glpat-",
    b"xoxb-",
    b"sk_live_",
    b"AccountKey=",
    b"-----BEGIN RSA PRIVATE KEY-----",
    b"privateMaterial: ",
    b'{"Data":"',
    b"kind: Secret\n",
    b"stringData:\n",
    b"data: {",
    b"---\n",
    b"\r\n",
    b"\n",
    b"\x00",
    b"\xff\xfe",
    b" " * 7,
    b"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVkt",
    b"--token ",
    b"_authToken=",
    b"AIza",
    b"chpasswd:\n  list: |\n    root:",
    b"    u:p\n",
]

fragments = st.one_of(st.sampled_from(TRIGGERS), st.binary(max_size=64))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragments, max_size=200))
def test_any_bytes_scan_without_error(parts: list[bytes]) -> None:
    data = b"".join(parts)
    result = findings(data)
    assert all(1 <= f.line <= data.count(b"\n") + 1 for f in result)
    assert all(f.rule and f.name for f in result)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(TRIGGERS), st.sampled_from([b"", b"a", b"A1", b"/", b"\n", b" x"]))
def test_long_repeats_stay_linear(trigger: bytes, filler: bytes) -> None:
    """A 1 MB line of one trigger repeated: the worst case for an unanchored pattern."""
    data = (trigger + filler) * (1_000_000 // (len(trigger) + len(filler)))
    start = time.perf_counter()
    findings(data)
    assert time.perf_counter() - start < 10, f"{trigger!r}+{filler!r} took too long"


@pytest.mark.parametrize(
    "data",
    [
        b"eyJhbGciOiJIUzI1NiJ9." * 200_000,
        b"https://u:" + b"p" * 2_000_000,
        b"kind: Secret\n" + b"data:\n" * 300_000,
        b"- name: X_TOKEN\n  value: " * 100_000,
        b"secret " + b"A1b2" * 500_000,
        bytes(range(256)) * 8_000,
    ],
    ids=["jwt-heads", "url-no-at", "many-data-blocks", "many-env-pairs", "secret-run", "binary"],
)
def test_adversarial_megabytes_are_bounded(data: bytes) -> None:
    start = time.perf_counter()
    findings(data)
    assert time.perf_counter() - start < 10


def _imports_library(code: str) -> bool:
    probe = (
        "import sys\nfrom kops_gitsync.secretscan import findings\n"
        f"{code}\nprint('detect_secrets' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.strip() == "True"


def test_library_is_imported_only_for_a_candidate() -> None:
    clean = (
        f"from pathlib import Path\nEXAMPLE = Path({str(EXAMPLE)!r})\n"
        "for p in EXAMPLE.rglob('*'):\n"
        "    parts = set(p.relative_to(EXAMPLE).parts)\n"
        "    if p.is_file() and not {'private', 'secrets'} & parts:\n"
        "        assert not findings(p.read_bytes()), p\n"
    )
    assert not _imports_library(clean)
    assert _imports_library("assert findings(b'token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln')")
