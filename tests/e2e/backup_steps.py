"""Shared steps of the backup tests: an age key pair made by the real ``age-keygen``, a
review repo configured with ``secrets: encrypt``, a fixture store in a moto bucket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kops_gitsync.sync.policy import encryptable
from tests.conftest import FIXTURE_STORES
from tests.core.conftest import git

needs_age = pytest.mark.skipif(shutil.which("age") is None,
                               reason="the age CLI is not installed (tests/debian-packages.txt)")


def fixture_objects(name: str) -> dict[str, bytes]:
    root = FIXTURE_STORES / name
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def secrets_of(objects: dict[str, bytes]) -> dict[str, bytes]:
    """The objects ``secrets: encrypt`` keeps as age copies."""
    return {k: v for k, v in objects.items() if encryptable(k)}


def keygen(folder: Path, name: str = "key.txt") -> tuple[Path, str]:
    """An age identity file and its public key, from age-keygen."""
    path = folder / name
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True,
                            text=True).stdout.strip()
    return path, public


def configure(repo: Path, state: str, *recipients: str, name: str = "prod") -> None:
    listed = ", ".join(recipients)
    (repo / ".kops-gitsync.yaml").write_text(
        f"stores:\n- name: {name}\n  state: {state}\n  path: state\n"
        f"  secrets: encrypt\n  age_recipients: [{listed}]\n")
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "config: encrypt secrets")


def age_decrypt(identity: Path, path: Path) -> bytes:
    return subprocess.run(["age", "-d", "-i", str(identity), str(path)], check=True,
                          capture_output=True).stdout


def fill_bucket(client: object, bucket: str, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)  # type: ignore[attr-defined]
