"""The age header check the no-secrets hook and restore rely on (no keys, no pyrage), and
the recipient shape check of the config: against files the real age tool writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kops_gitsync.backup.age import is_age, recipient_problem

needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI is not installed")


def _sealed(tmp_path: Path, *flags: str) -> tuple[bytes, str]:
    key = tmp_path / "k.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                            text=True).stdout.strip()
    out = subprocess.run(["age", "-r", public, "-r", public, *flags], input=b"secret",
                         check=True, capture_output=True).stdout
    return out, public


@needs_age
@pytest.mark.parametrize("flags", [(), ("-a",)], ids=["binary", "armored"])
def test_real_age_files_pass_and_damaged_headers_do_not(tmp_path: Path,
                                                        flags: tuple[str, ...]) -> None:
    sealed, public = _sealed(tmp_path, *flags)
    assert is_age(sealed)
    assert recipient_problem(public) is None
    if not flags:
        header_end = sealed.index(b"\n---") + 1
        assert not is_age(sealed[:header_end])  # no MAC line
        assert not is_age(sealed.replace(b"-> X25519", b"-> X25519\x00", 1))


@pytest.mark.parametrize("data", [
    b"", b"age-encryption.org/v1\n", b"age-encryption.org/v1\n--- abc\n",
    b"age-encryption.org/v1\napiVersion: kops.k8s.io/v1alpha2\n",
    b"-----BEGIN AGE ENCRYPTED FILE-----\nnot base64!\n-----END AGE ENCRYPTED FILE-----\n",
    b"apiVersion: kops.k8s.io/v1alpha2\nkind: Keyset\n",
])
def test_not_age(data: bytes) -> None:
    assert not is_age(data)


@pytest.mark.parametrize(("text", "why"), [
    ("AGE-SECRET-KEY-1QQQ", "secret"), ("age1short", "not an age public key"),
    ("ssh-ed25519 AAAA", "not an age public key"),
])
def test_recipient_problems(text: str, why: str) -> None:
    problem = recipient_problem(text)
    assert problem is not None and why in problem


def test_without_pyrage_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from kops_gitsync.backup import age
    from kops_gitsync.errors import MissingDependency

    monkeypatch.setitem(sys.modules, "pyrage", None)  # as if not installed
    with pytest.raises(MissingDependency, match=r"kops-gitsync\[age\]"):
        age.encrypt(b"x", [])
