"""``kops-no-secrets`` and ``secrets: encrypt`` copies, through real pre-commit and the real
``age`` CLI: age ciphertext (binary and armored) is accepted where a copy belongs; plaintext
there is refused whatever it holds, and plaintext secrets stay refused everywhere else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_STORES
from tests.hooks.conftest import MakeRepo, output

pytestmark = pytest.mark.skipif(shutil.which("age") is None,
                                reason="the age CLI is not installed (tests/debian-packages.txt)")
KEY = "minimal-aws.example.com/pki/private/kubernetes-ca/keyset.yaml"
COPY = f".kops-gitsync/encrypted/prod/{KEY}.age"
CONFIG = ("stores:\n- name: prod\n  state: s3://bucket\n  path: state\n  secrets: encrypt\n"
          "  age_recipients: [{}]\n")


def _age(tmp_path: Path, data: bytes, *flags: str) -> tuple[bytes, str]:
    key = tmp_path / "key.txt"
    if not key.exists():
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                            text=True).stdout.strip()
    sealed = subprocess.run(["age", "-r", public, *flags], input=data, check=True,
                            capture_output=True).stdout
    return sealed, public


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_age_copies_pass(make_repo: MakeRepo, tmp_path: Path, armor: bool) -> None:
    keyset = (FIXTURE_STORES / "minimal-aws" / KEY).read_bytes()
    sealed, public = _age(tmp_path, keyset, *(["-a"] if armor else []))
    repo = make_repo(hooks=("kops-no-secrets",), config=CONFIG.format(public))
    repo.write(COPY, sealed)
    repo.write(".kops-gitsync/encrypted/prod.json", '{"format": 1, "recipients": [], '
               '"objects": {}}\n')
    proc = repo.commit("backup: encrypted copy")
    assert proc.returncode == 0, output(proc)


@pytest.mark.parametrize("content", ["keyset", "token", "fake-header"])
def test_plaintext_at_the_copy_path_is_refused(
    make_repo: MakeRepo, tmp_path: Path, content: str
) -> None:
    keyset = (FIXTURE_STORES / "minimal-aws" / KEY).read_bytes()
    _sealed, public = _age(tmp_path, b"x")
    data = {"keyset": keyset,
            "token": b"Zq4tW9vN2kLp8rXy\n",  # nothing a scanner can recognise
            "fake-header": b"age-encryption.org/v1\n" + keyset}[content]
    repo = make_repo(hooks=("kops-no-secrets",), config=CONFIG.format(public))
    repo.write(COPY, data)
    proc = repo.commit("backup: not really encrypted")
    assert proc.returncode != 0
    assert COPY in output(proc) and "not age-encrypted" in output(proc), output(proc)


def test_plaintext_secret_in_the_mirror_is_still_refused(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    keyset = (FIXTURE_STORES / "minimal-aws" / KEY).read_bytes()
    _sealed, public = _age(tmp_path, b"x")
    repo = make_repo(hooks=("kops-no-secrets",), config=CONFIG.format(public))
    repo.write(f"state/{KEY}", keyset)
    proc = repo.commit("oops")
    assert proc.returncode != 0 and f"state/{KEY}" in output(proc), output(proc)


def test_a_production_copy_changes_only_through_review(make_repo: MakeRepo) -> None:
    """push writes a changed copy to the store, so a production store's copies are guarded
    like its mirror: refused on the approved branch, a proposal on a feature branch."""
    from tests.hooks.conftest import fixture_store, intent_keys

    config = ("stores:\n- name: prod\n  path: state/prod\n  production: true\n"
              "- name: dev\n  path: state/dev\n")
    repo = make_repo(hooks=("kops-protect-production",), config=config)
    source = fixture_store("minimal-aws")
    repo.copy_tree(source, "state/prod", intent_keys(source))
    assert repo.commit("initial mirror", verify=False).returncode == 0
    copy = f".kops-gitsync/encrypted/prod/{KEY}.age"
    repo.write(copy, b"age-encryption.org/v1\n")
    proc = repo.commit("rotate the CA")
    assert proc.returncode == 1 and copy in output(proc), output(proc)
    repo.git("checkout", "-q", "-b", "rotate-ca")
    assert repo.commit("rotate the CA").returncode == 0
