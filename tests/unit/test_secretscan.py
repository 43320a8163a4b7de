"""secretscan: every secret form in the fixture stores is found, nothing else is.

The false-positive side matters as much: pull runs the scanner on every object it mirrors,
and a hook that cries wolf on a Calico CRD gets switched off.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kops_gitsync.secretscan import scan
from kops_gitsync.sync.policy import Kind, classify
from tests.conftest import FIXTURE_STORES


def _fixture_files() -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    if not FIXTURE_STORES.is_dir():
        return files
    for store in sorted(p for p in FIXTURE_STORES.iterdir() if p.is_dir()):
        for path in sorted(store.rglob("*")):
            if path.is_file():
                files.append((path.relative_to(store).as_posix(), path))
    return files


FILES = _fixture_files()
SECRET_FILES = [(k, p) for k, p in FILES if classify(k) is Kind.SECRET]
OTHER_FILES = [(k, p) for k, p in FILES if classify(k) is not Kind.SECRET]


@pytest.mark.skipif(not FILES, reason=f"no fixture stores at {FIXTURE_STORES}")
def test_fixtures_hold_every_secret_form() -> None:
    kinds = {k.rsplit("/", 2)[-2] if "/secrets/" in k else Path(k).suffix for k, _ in SECRET_FILES}
    assert {"secrets", ".yaml", ".key"} <= kinds
    assert len(OTHER_FILES) > 100


@pytest.mark.parametrize(("key", "path"), SECRET_FILES, ids=[k for k, _ in SECRET_FILES])
def test_every_fixture_secret_is_found(key: str, path: Path) -> None:
    rules = {f.rule for f in scan(path.read_bytes())}
    if "/secrets/" in key:
        assert "kops-secret" in rules
    elif key.endswith("keyset.yaml"):
        assert "kops-keyset-private" in rules
    else:  # legacy pki/private/ca/<id>.key: raw PEM
        assert "pem-private-key" in rules


@pytest.mark.parametrize(("key", "path"), OTHER_FILES, ids=[k for k, _ in OTHER_FILES])
def test_no_false_positive_on_fixture_objects(key: str, path: Path) -> None:
    assert scan(path.read_bytes()) == []


FAKE_PEM = (
    b"-----BEGIN RSA PRIVATE KEY-----\n"
    b"RkFLRSBURVNUIEtFWSAtIE5PVCBBIFJFQUwgUFJJVkFURSBLRVk=\n"
    b"-----END RSA PRIVATE KEY-----\n"
)


def test_base64_pem_outside_a_keyset_is_found() -> None:
    blob = base64.b64encode(FAKE_PEM)
    data = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  key: " + blob + b"\n"
    assert [(f.line, f.rule) for f in scan(data)] == [(4, "base64-private-key")]


def test_keyset_with_public_material_only_is_clean() -> None:
    data = (
        b"kind: Keyset\nspec:\n  keys:\n  - id: '1'\n    publicMaterial: "
        + base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        + b"\n    privateMaterial: null\n"
    )
    assert scan(data) == []


HCLOUD = b"""apiVersion: v1
kind: Secret
metadata:
  name: hcloud
  namespace: kube-system
stringData:
  token: 9bXq2LpTz0a8Vr7cK1mN
---
apiVersion: apps/v1
kind: Deployment
"""
DIGITALOCEAN = b"""kind: Secret
metadata:
  name: digitalocean
stringData:
  access-token: "dop_v1_5f1e2d3c4b5a69788796a5b4c3d2e1f0"
"""
SCALEWAY = b"""kind: Secret
metadata:
  name: scaleway-secret
stringData:
  SCW_ACCESS_KEY: SCWABCDEFGHIJKLMNOPQ
  SCW_SECRET_KEY: 11111111-2222-3333-4444-555555555555
"""
OPENSTACK = b"""kind: Secret
metadata:
  name: openstack-cloud-controller-config
stringData:
  cloud.config: |
    [Global]
    auth-url="https://keystone.example.com:5000/v3"
    username="kops"
    password="tr0ub4dor&3"
"""
ENV_TOKEN = b"""        env:
        - name: DIGITALOCEAN_ACCESS_TOKEN
          value: x
        envFrom: []
        args: ["--token", "x"]
HCLOUD_TOKEN=abcdef0123456789
"""


@pytest.mark.parametrize(
    ("data", "rule", "line"),
    [
        (HCLOUD, "k8s-secret-data", 7),
        (DIGITALOCEAN, "k8s-secret-data", 5),
        (SCALEWAY, "cloud-credential", 5),
        (OPENSTACK, "password", 9),
        (ENV_TOKEN, "cloud-credential", 6),
        (b"aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n", "aws-access-key", 1),
    ],
    ids=["hcloud", "digitalocean", "scaleway", "openstack", "env-token", "aws-key-id"],
)
def test_cloud_credentials_in_addon_manifests(data: bytes, rule: str, line: int) -> None:
    assert (line, rule) in [(f.line, f.rule) for f in scan(data)]


@pytest.mark.parametrize(
    "data",
    [
        HCLOUD.replace(b"9bXq2LpTz0a8Vr7cK1mN", b"REDACTED"),
        DIGITALOCEAN.replace(b'"dop_v1_5f1e2d3c4b5a69788796a5b4c3d2e1f0"', b"null"),
        OPENSTACK.replace(b'"tr0ub4dor&3"', b'"REDACTED"').replace(b"Secret", b"ConfigMap"),
        b"kind: Secret\nstringData:\n  token: '{{ .Token }}'\n",
        b"kind: ConfigMap\ndata:\n  token: not-a-secret-kind\n",
        b"properties:\n  password:\n    properties:\n      secretKeyRef: {}\n",
    ],
    ids=["redacted", "null", "redacted-cloud-config", "template", "configmap", "crd-schema"],
)
def test_placeholders_and_schemas_are_not_credentials(data: bytes) -> None:
    assert scan(data) == []


def test_kops_secret_json_and_empty_json() -> None:
    secret = b'{"Data":"' + base64.b64encode(b"FAKE kops secret") + b'"}'
    assert [f.rule for f in scan(secret)] == ["kops-secret"]
    assert scan(b'{"Data":""}') == []
    assert scan(b"") == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("crlf", b"kind: Secret\r\nstringData:\r\n  token: Xk3b9QzLm2Pq7RtYvW8sA1dF4gH6jK0n\r\n"),
        ("flow", b"kind: Secret\nstringData: {token: Xk3b9QzLm2Pq7RtYvW8sA1dF4gH6jK0n}\n"),
        ("comment", b"kind: Secret\ndata: # creds\n  token: WGszYjlRekxtMlBxN1J0WXZXOHNBMWRG\n"),
        ("env pair", b"env:\n- name: HCLOUD_TOKEN\n  value: Xk3b9QzLm2Pq7RtYvW8sA1dF4gH6jK0n\n"),
    ],
)
def test_secret_forms_found_in_review(name: str, data: bytes) -> None:
    assert scan(data), name


def test_placeholders_and_references_are_not_secrets() -> None:
    assert not scan(b"kind: Secret\nstringData: {token: REDACTED}\n")
    ref = b"env:\n- name: HCLOUD_TOKEN\n  valueFrom:\n    secretKeyRef: {name: h, key: t}\n"
    assert not scan(ref)


EXAMPLE_STORE = Path(__file__).resolve().parents[2] / "examples" / "store"
EXAMPLE_FILES = [
    (p.relative_to(EXAMPLE_STORE).as_posix(), p)
    for p in sorted(EXAMPLE_STORE.rglob("*"))
    if p.is_file()
]


@pytest.mark.parametrize(("key", "path"), EXAMPLE_FILES, ids=[k for k, _ in EXAMPLE_FILES])
def test_bundled_example_store_secrets_only(key: str, path: Path) -> None:
    """examples/store: pki/private/** and secrets/** are found, nothing else is."""
    rules = {f.rule for f in scan(path.read_bytes())}
    if classify(key) is Kind.SECRET:
        assert rules & {"kops-secret", "kops-keyset-private"}, key
    else:
        assert rules == set(), key
