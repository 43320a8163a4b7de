"""``secrets: encrypt`` on a real S3 server (moto): pull writes age copies that the stock
``age`` CLI decrypts byte for byte, outside the mirror; a no-op pull re-encrypts nothing;
a changed secret is re-encrypted and named by fingerprint only."""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.backup.crypt import copy_path, index_path
from tests.core.conftest import git
from tests.e2e.backup_steps import (
    age_decrypt,
    configure,
    fill_bucket,
    fixture_objects,
    keygen,
    needs_age,
    secrets_of,
)
from tests.e2e.steps import cli
from tests.servers.s3 import admin_client, new_bucket, s3_env


@pytest.fixture
def s3_setup(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, str]:
    for name, value in s3_env(moto_server).items():
        monkeypatch.setenv(name, value)
    client = admin_client(moto_server)
    return client, new_bucket(moto_server)


@needs_age
def test_pull_encrypts_secrets_for_the_age_cli(
    s3_setup: tuple[object, str], repo: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, bucket = s3_setup
    objects = fixture_objects("ha")
    secrets = secrets_of(objects)
    assert len(secrets) > 10 and any("/secrets/" in k for k in secrets)
    fill_bucket(client, bucket, objects)
    identity, public = keygen(tmp_path)
    other_identity, other = keygen(tmp_path, "other.txt")
    configure(repo, f"s3://{bucket}", public, other)

    assert cli(repo, "pull") == 0, capsys.readouterr().err
    for key, data in secrets.items():
        assert not (repo / "state" / key).exists()  # the mirror stays a kops-readable store
        copy = repo / copy_path("prod", key)
        assert copy.read_bytes().startswith(b"age-encryption.org/v1\n")
        assert data not in copy.read_bytes()
        assert age_decrypt(identity, copy) == data
        assert age_decrypt(other_identity, copy) == data  # every recipient can
    message = git(repo, "log", "-1", "--format=%B", "refs/kops-gitsync/observed/prod")
    assert "sha256:" in message and "Encrypted secret copies" in message
    index = (repo / index_path("prod")).read_text()
    for data in secrets.values():  # no value anywhere in the index or the message
        assert data.decode(errors="replace")[:40] not in index + message

    # a no-op pull: no commit, no re-encryption
    before = git(repo, "rev-parse", "refs/kops-gitsync/observed/prod")
    capsys.readouterr()
    assert cli(repo, "pull") == 0
    assert "up to date" in capsys.readouterr().out
    assert git(repo, "rev-parse", "refs/kops-gitsync/observed/prod") == before

    # same bytes rewritten (a new version): the copy stays, only the index moves
    admin = secrets
    key = next(k for k in admin if k.endswith("/secrets/admin"))
    copy = repo / copy_path("prod", key)
    old_copy = copy.read_bytes()
    client.put_object(Bucket=bucket, Key=key, Body=admin[key])  # type: ignore[attr-defined]
    assert cli(repo, "pull") == 0
    assert copy.read_bytes() == old_copy

    # new content: re-encrypted, shown by fingerprint only
    client.put_object(Bucket=bucket, Key=key, Body=b"rotated-token-value")  # type: ignore[attr-defined]
    assert cli(repo, "pull") == 0
    assert age_decrypt(identity, copy) == b"rotated-token-value"
    message = git(repo, "log", "-1", "--format=%B", "refs/kops-gitsync/observed/prod")
    assert key in message and "rotated-token-value" not in message
    assert git(repo, "status", "--porcelain") == ""

    # a secret deleted in the store: its copy goes too
    client.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    assert cli(repo, "pull") == 0
    assert not copy.exists()


@needs_age
def test_adding_a_recipient_re_encrypts_everything(
    s3_setup: tuple[object, str], repo: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, bucket = s3_setup
    objects = fixture_objects("minimal-aws")
    fill_bucket(client, bucket, objects)
    _first, first_public = keygen(tmp_path)
    configure(repo, f"s3://{bucket}", first_public)
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    second, second_public = keygen(tmp_path, "second.txt")
    configure(repo, f"s3://{bucket}", first_public, second_public)
    assert cli(repo, "pull") == 0, capsys.readouterr().err
    for key, data in secrets_of(objects).items():
        assert age_decrypt(second, repo / copy_path("prod", key)) == data


def test_encrypt_without_recipients_is_one_line(repo: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n- name: prod\n  state: file:///nowhere\n  secrets: encrypt\n")
    assert cli(repo, "pull") == 1
    err = capsys.readouterr().err
    assert "stores[0].secrets" in err and "age_recipients" in err and "Traceback" not in err
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n- name: prod\n  state: file:///nowhere\n  secrets: encrypt\n"
        "  age_recipients: [AGE-SECRET-KEY-1XYZ, age1notakey]\n")
    assert cli(repo, "pull") == 1
    err = capsys.readouterr().err
    assert "stores[0].age_recipients[0]" in err and "secret" in err
    assert "stores[0].age_recipients[1]" in err and "not an age public key" in err
