"""Issue 14's corpus: every secret kind kops users put in a store, found by the right rule.

Each case embeds one secret where kops users put it (Cluster ``spec.fileAssets[].content``
and ``spec.hooks[].manifest``, InstanceGroup ``spec.additionalUserData`` shell scripts and
cloud-config, ``env`` name/value lists of addon manifests, objects with odd names) and names
the rule that must report it, on the line that holds it. The same carriers without the
secret must be clean: the false-positive side is tested with the same objects.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kops_gitsync.secretscan import findings, scan


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT = ".".join(
    [
        _b64url({"alg": "RS256", "kid": "Xc9pQ2LmTz"}),
        _b64url({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ops:ci"}),
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PXBOAHMxZVm4",
    ]
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8k3Lm2Qa"  # 40 chars, fake
AZURE_KEY = base64.b64encode(bytes(range(7, 73))).decode()  # 88 chars, fake
FAKE_RSA = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "-----END RSA PRIVATE KEY-----\n"
)
FAKE_PGP = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
    "lQOYBGN0ZXN0AQgAx4Qw8PZ0qZ3c0m1Y2s7e0FAKEFAKEFAKEFAKE\n"
    "-----END PGP PRIVATE KEY BLOCK-----\n"
)


def _indent(text: str, spaces: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n") + "\n", " " * spaces)


def cluster_file_asset(content: str) -> str:
    """A Cluster whose ``spec.fileAssets`` carries ``content`` to every node."""
    return (
        "apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n"
        "  name: prod.example.com\nspec:\n  kubernetesVersion: 1.30.2\n"
        "  cloudProvider: aws\n  configBase: s3://state/prod.example.com\n"
        "  fileAssets:\n  - name: ops-config\n    path: /etc/ops/config\n"
        "    roles: [ControlPlane, Node]\n    content: |\n"
        + _indent(content, 6)
        + "  networking:\n    cilium: {}\n"
    )


def cluster_hook(manifest: str) -> str:
    """A Cluster with a ``spec.hooks`` systemd unit."""
    return (
        "apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n"
        "  name: prod.example.com\nspec:\n  hooks:\n  - name: fetch-config.service\n"
        "    roles: [Node]\n    manifest: |\n"
        + _indent(manifest, 6)
        + "  kubelet:\n    anonymousAuth: false\n"
    )


def ig_user_data(content: str, kind: str = "text/x-shellscript") -> str:
    """An InstanceGroup whose ``spec.additionalUserData`` runs ``content`` at boot."""
    return (
        "apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\nmetadata:\n"
        "  labels:\n    kops.k8s.io/cluster: prod.example.com\n  name: nodes-us-east-1a\n"
        "spec:\n  image: 099720109477/ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64\n"
        "  machineType: m5.large\n  maxSize: 3\n  minSize: 1\n  role: Node\n"
        f"  additionalUserData:\n  - name: bootstrap.sh\n    type: {kind}\n    content: |\n"
        + _indent(content, 6)
        + "  subnets:\n  - us-east-1a\n"
    )


def addon(env: str) -> str:
    """An addon Deployment whose container takes ``env``."""
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: reporter\n"
        "  namespace: kube-system\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - name: reporter\n        image: registry.k8s.io/reporter:v1.2.3\n"
        "        env:\n        - name: LOG_LEVEL\n          value: info\n"
        + _indent(env, 8)
        + "        - name: TOKEN_FILE\n          value: /var/run/secrets/tokens/reporter\n"
        "        - name: API_TOKEN\n          valueFrom:\n"
        "            secretKeyRef: {name: reporter, key: token}\n"
    )


def raw(content: str) -> str:
    """An object at an odd key (``notes/backup``, ``.kube/config``): just the bytes."""
    return textwrap.dedent(content).lstrip("\n")


@dataclass(frozen=True)
class Case:
    carrier: Callable[[str], str]
    snippet: str
    rule: str
    needle: str  # text on the line the finding must name
    clean: str = ""  # the snippet with the secret removed (default: no snippet at all)


KUBECONFIG = f"""
apiVersion: v1
kind: Config
clusters:
- cluster: {{server: https://api.prod.example.com}}
  name: prod
users:
- name: ci
  user:
    token: {JWT}
"""

CASES: dict[str, Case] = {
    "jwt-kubeconfig-token": Case(cluster_file_asset, KUBECONFIG, "jwt", "token: eyJ"),
    "jwt-command-line": Case(
        ig_user_data, f"kubectl --token={JWT} get nodes\n", "jwt", "kubectl --token"
    ),
    "authorization-bearer": Case(
        cluster_hook,
        "[Service]\nExecStart=/usr/bin/curl -fsS -H 'Authorization: Bearer "
        "7d1f3c9a2b8e4d6f0a1c3e5b7d9f1a3c' https://config.example.com/node\n",
        "bearer-token",
        "Authorization: Bearer",
        '[Service]\nExecStart=/usr/bin/curl -fsS -H "Authorization: Bearer ${TOKEN}" '
        "https://config.example.com/node\n",
    ),
    "env-db-password": Case(
        addon,
        "- name: DB_PASSWORD\n  value: hunter2-correct-horse\n",
        "password",
        "name: DB_PASSWORD",
        "- name: DB_HOST\n  value: db.internal\n",
    ),
    "env-flow-style-token": Case(
        addon,
        '- {name: REPORT_API_TOKEN, value: "Zk3q9Lx2Vb7Np4Rt8Ws1"}\n',
        "credential",
        "REPORT_API_TOKEN",
    ),
    "env-value-before-name": Case(
        addon,
        "- value: s3cr3t-Passw0rd\n  name: ADMIN_PASSWORD\n",
        "password",
        "value: s3cr3t",
    ),
    "clone-url-with-token": Case(
        ig_user_data,
        "git clone https://deploy:Zx8Kq2Lm9Vb4Np7R@git.example.com/ops/site.git /opt/site\n",
        "url-credentials",
        "git clone",
        "git clone https://git.example.com/ops/site.git /opt/site\n",
    ),
    "github-classic-token": Case(
        ig_user_data,
        "export GH_AUTH=ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5\n",
        "github-token",
        "ghp_",
    ),
    "github-fine-grained-token": Case(
        cluster_file_asset,
        "github: github_pat_11ABCDEFG0" + "x7Yz" * 20 + "\n",
        "github-token",
        "github_pat_",
    ),
    "gitlab-token": Case(
        ig_user_data,
        "curl --header 'PRIVATE-TOKEN: glpat-Xy7zQ2mN4pL8vB1cR6tS' "
        "https://gitlab.example.com/api/v4/projects\n",
        "gitlab-token",
        "glpat-",
    ),
    "slack-bot-token": Case(
        cluster_file_asset,
        "slack_bot: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n",
        "slack-token",
        "xoxb-",
    ),
    "slack-webhook": Case(
        cluster_hook,
        "[Service]\nEnvironment=WEBHOOK=https://hooks.slack.com/services/"
        "T0A1B2C3D/B4E5F6G7H/xYz0123456789AbCdEfGhIj\n",
        "slack-token",
        "hooks.slack.com",
    ),
    "stripe-live-key": Case(
        addon,
        "- name: PAYMENTS\n  value: sk_live_4eC39HqLyjWDarjtT1zdp7dc\n",
        "stripe-key",
        "sk_live_",
    ),
    "azure-storage-connection-string": Case(
        cluster_file_asset,
        "connection: DefaultEndpointsProtocol=https;AccountName=opslogs;"
        f"AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net\n",
        "azure-storage-key",
        "AccountKey=",
    ),
    "pgp-private-key": Case(cluster_file_asset, FAKE_PGP, "pem-private-key", "BEGIN PGP"),
    "rsa-private-key-file-asset": Case(
        cluster_file_asset, FAKE_RSA, "pem-private-key", "BEGIN RSA"
    ),
    "aws-secret-key-credentials-file": Case(
        cluster_file_asset,
        f"[default]\naws_secret_access_key = {AWS_SECRET}\n",
        "aws-secret-key",
        "aws_secret_access_key",
    ),
    "aws-secret-key-next-to-keyword": Case(
        ig_user_data,
        f"aws configure set aws_secret_access_key {AWS_SECRET}\n",
        "aws-secret-key",
        "aws configure",
    ),
    "aws-access-key-id": Case(
        ig_user_data,
        "export AWS_ACCESS_KEY_ID=AKIAZ7QW3ER5TY8UI0OP\n",
        "aws-access-key",
        "AKIA",
    ),
    "cloud-config-password": Case(
        lambda c: ig_user_data(c, "text/cloud-config"),
        "#cloud-config\nusers:\n- name: ops\n  plain_text_passwd: Tr0ub4dor-and-3\n",
        "password",
        "plain_text_passwd",
    ),
    "cloud-config-chpasswd-list": Case(
        lambda c: ig_user_data(c, "text/cloud-config"),
        "#cloud-config\nchpasswd:\n  list: |\n    ops:RANDOM\n    root:Sup3r-S3cret\n"
        "  expire: false\n",
        "password",
        "root:Sup3r",
    ),
    "env-json-pair": Case(
        raw,
        '{"containers": [{"name": "app", "env": [{"name": "LOG_LEVEL", "value": "info"},\n'
        '  {"name": "SMTP_PASSWORD", "value": "m4il-Rel4y-pw"}]}]}\n',
        "password",
        "SMTP_PASSWORD",
    ),
    "hcloud-token-env": Case(
        addon,
        "- name: HCLOUD_TOKEN\n  value: LRK9DAWQ1ZAEFSrCNEEzLCUwhYX1U3g7"
        "wMg4dTlkkDC96fyDuyJ39nVbVjCKSDfj\n",
        "cloud-credential",
        "name: HCLOUD_TOKEN",
    ),
    "k8s-secret-in-hook-manifest": Case(
        raw,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registry\nstringData:\n"
        "  token: 9bXq2LpTz0a8Vr7cK1mN\n",
        "k8s-secret-data",
        "token: 9bXq",
    ),
    "keyset-copied-to-odd-key": Case(
        raw,
        "apiVersion: kops.k8s.io/v1alpha2\nkind: Keyset\nspec:\n  keys:\n  - id: '1'\n"
        "    privateMaterial: " + base64.b64encode(FAKE_RSA.encode()).decode() + "\n",
        "kops-keyset-private",
        "privateMaterial",
    ),
    "kops-secret-json-odd-key": Case(
        raw,
        '{"Data":"' + base64.b64encode(b"kops admin password, fake").decode() + '"}',
        "kops-secret",
        '{"Data"',
    ),
    "base64-pem-in-configmap": Case(
        raw,
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  tls.key: "
        + base64.b64encode(FAKE_RSA.encode()).decode()
        + "\n",
        "base64-private-key",
        "tls.key",
    ),
    "registry-password-containerd-toml": Case(
        cluster_file_asset,
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."reg.example.com".auth]\n'
        '  username = "puller"\n  password = "pU11-Th3-Imag3s"\n',
        "password",
        'password = "pU11',
    ),
    "basic-authorization-header": Case(
        ig_user_data,
        "curl -H 'Authorization: Basic b3BzOnMzY3IzdC1wYXNz' https://x.example.com\n",
        "basic-auth-header",
        "Authorization: Basic",
    ),
    "npm-token": Case(
        cluster_file_asset,
        "//registry.npmjs.org/:_authToken=npm_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78\n",
        "npm-token",
        "_authToken",
    ),
    "google-api-key": Case(
        cluster_file_asset,
        "maps_key: AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q\n",
        "google-api-key",
        "AIza",
    ),
    "bootstrap-token-flag": Case(
        ig_user_data,
        "kubeadm join api.internal:6443 --token q7x9k2.4m8n1p6r3s5t0v2w\n",
        "credential",
        "--token",
    ),
}


def _line_of(text: str, needle: str) -> int:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_is_found_by_its_rule_on_its_line(name: str) -> None:
    case = CASES[name]
    text = case.carrier(case.snippet)
    got = [(f.line, f.rule) for f in findings(text.encode())]
    assert (_line_of(text, case.needle), case.rule) in got, got
    assert scan(text.encode())  # pull's call: truthy


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_carrier_without_the_secret_is_clean(name: str) -> None:
    case = CASES[name]
    assert findings(case.carrier(case.clean).encode()) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_crlf_copies_are_found_on_the_same_line(name: str) -> None:
    case = CASES[name]
    text = case.carrier(case.snippet)
    crlf = text.replace("\n", "\r\n").encode()
    assert (_line_of(text, case.needle), case.rule) in [(f.line, f.rule) for f in findings(crlf)]


def test_corpus_covers_the_issue() -> None:
    assert len(CASES) >= 22
    assert len({case.rule for case in CASES.values()}) >= 15


def test_finding_names_the_rule_in_words() -> None:
    (finding,) = [f for f in findings(KUBECONFIG.encode()) if f.rule == "jwt"]
    assert finding.name == "JWT token" and str(finding) == f"line {finding.line}: JWT token"


@pytest.mark.parametrize(
    "line",
    [
        "secretName: reporter-tls",
        "tokenFile: /var/run/secrets/tokens/reporter",
        "automountServiceAccountToken: false",
        "- --token-auth-file=/srv/kubernetes/known_tokens.csv",
        "- --service-account-key-file=/srv/kubernetes/service-account.pub",
        "- --kubelet-client-key=/srv/kubernetes/kubelet-api.key",
        "token: '{{ .HetznerToken }}'",
        "password: ${DB_PASSWORD}",
        "export DB_PASSWORD=$(cat /run/secrets/db)",
        'curl -H "Authorization: Bearer $(cat /var/run/secrets/token)" https://x',
        "git clone https://ci:${CI_JOB_TOKEN}@gitlab.example.com/ops/site.git",
        "aws_secret_access_key = <your secret key>",
        "secret: not-a-secret-kind",
        "apiKey: none",
        "token: 3600",
        'publicKey: "ssh-ed25519 '
        'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"',
        'sshKeyName: "ops-2024"',
        "password: REDACTED",
        "OS_PASSWORD: '********'",
        "credentials=AnonymousCredentials()",
        "aws_secret_access_key=settings.secret_key,",
        "image: registry.k8s.io/kube-apiserver:v1.30.2@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ],
)
def test_kops_and_template_lines_are_not_secrets(line: str) -> None:
    assert (
        findings(addon("").replace("        env:\n", f"        # {line}\n        env:\n").encode())
        == []
    )
    assert findings(f"{line}\n".encode()) == []
