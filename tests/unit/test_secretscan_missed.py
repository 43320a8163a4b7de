"""Secret kinds an audit found passing ``kops-gitsync hook no-secrets`` with exit 0.

Each case is a line users really write into user data, hook manifests or dotfiles parked
in a store; each must be reported by the named rule on its line. The references the old
suppressions were there for (templates, code, dotted config paths) must stay clean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kops_gitsync.secretscan import findings

VAULT = "hvs.CAESIJqK3m9Qp7X7vLrT2bN8wYcZ0dF4gH6jK1nM5sAGh4KHGh2cy5aWjNtOVFwN1g3dkxyVDJi"

MISSED = {
    "aws-cli-argument": (
        "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8ZR1VBKEY9",
        "aws-secret-key",
    ),
    "aws-cli-argument-40": (
        "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8k3Lm2Qa",
        "aws-secret-key",
    ),
    "vault-token-dotted": (f"VAULT_TOKEN={VAULT}", "credential"),
    "api-token-dotted": ("API_TOKEN=Zk3m9Qp.X7vLrT2bN8wYcZ0dF4gH6jK1n", "credential"),
    "yaml-token-dotted": ("  apiToken: 'Zk3m9Qp.X7vLrT2bN8wYcZ0dF4gH6jK1n'", "credential"),
    "password-dotted": ("export DB_PASSWORD=Tr0ub4dor.x3Kq9Lm2Pz", "password"),
    "netrc-one-line": ("machine github.com login deploy password s3cr3tValue", "password"),
    "mysql-short": ("mysql -uroot -pHunter2xyz -h db.internal shop", "password"),
    "mysqldump-short": ("mysqldump -u backup -p'Hunter2xyz' shop > /tmp/shop.sql", "password"),
    "mysql-long": ("mysql --user=root --password=Hunter2xyz shop", "password"),
}

ENV_PAIRS = {
    "DB_PASS": "Hunter2xyz",
    "MYSQL_PWD": "Hunter2xyz",
    "SMTP_PASSWD": "Hunter2xyz",
    "REDIS_PASSWORD": "Hunter2xyz",
    "JWT_SECRET": "Xk3b9QzLm2Pq7RtYvW8sA1dF",
    "CI_TOKEN": "Xk3b9QzLm2Pq7RtYvW8sA1dF",
    "ENCRYPTION_KEY": "Xk3b9QzLm2Pq7RtYvW8sA1dF",
    "dbPass": "Hunter2xyz",
    "SESSION_KEY": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}


@pytest.mark.parametrize("name", sorted(MISSED))
def test_missed_kind_is_found_on_its_line(name: str) -> None:
    line, rule = MISSED[name]
    data = f"#!/bin/bash\nset -euo pipefail\n{line}\necho done\n".encode()
    assert (3, rule) in [(f.line, f.rule) for f in findings(data)], findings(data)


@pytest.mark.parametrize("name", sorted(ENV_PAIRS))
def test_env_pair_with_short_secret_names(name: str) -> None:
    block = f"        env:\n        - name: {name}\n          value: {ENV_PAIRS[name]}\n"
    data = f"spec:\n  containers:\n  - name: app\n{block}".encode()
    rules = [(f.line, f.rule) for f in findings(data)]
    assert rules and rules[0][0] == 5, rules
    assert rules[0][1] in {"password", "credential"}, rules


def test_netrc_file_across_lines() -> None:
    data = b"machine github.com\n  login deploy\n  password s3cr3tValue\n"
    assert [(f.line, f.rule) for f in findings(data)] == [(3, "password")]


@pytest.mark.parametrize(
    "line",
    [
        "API_TOKEN=${API_TOKEN}",
        "VAULT_TOKEN=$(cat /run/secrets/vault)",
        "token: .Values.apiToken",
        "apiToken: spec.foo.bar",
        "api_token = self.settings.api_token",
        "aws_secret_access_key=settings.secret_key,",
        "DB_PASSWORD=config.db.password",
        "VAULT_TOKEN=vault.example.com",
        "secretName: reporter.tls.v1",
        "aws configure set aws_secret_access_key $AWS_SECRET_ACCESS_KEY",
        "aws configure set region eu-west-1",
        "DB_PASSWORD is read from the environment by default",
        "machine github.com login deploy password $NETRC_PASSWORD",
        "the password is given in the next file",
        "mysql -u root -p shop",
        "mysql -uroot -p$MYSQL_PWD shop",
        "mysql -u root -P3306 -h db shop",
        "ls -p /var/lib/mysql",
        "- name: BYPASS\n  value: 'true'",
        "- name: CACHE_KEY\n  value: users-v2",
        "- name: PWD\n  value: /app",
        "- name: SSH_PUBLIC_KEY\n  value: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6",
        "- name: DB_PASS\n  valueFrom:\n    secretKeyRef: {name: db, key: pass}",
        "- name: KEY\n  value: backups/2024",
        "- name: DB_PASS\n  value: opt_api",
        "cl_key_or_pass = opt_api + r'(?:key|pwd|pw|password|pass|token)'",
        "    self, private_key: ed25519.Ed25519PrivateKey, f_priv: _FragList",
        '\tmachine {full machine name} login {user-id} password "{password}"',
        "GETINFO cmd_has_option GET_PASSPHRASE newsymkey\x00GET_PASSPHRASE --data",
        "bus-errors error-warn error-pass bus-off\x00\x00\x00zD\x00",
        "V3Saml2Password = v3.Saml2Password",
        "    statements_pass: list[ast.stmt] = [hook_impl_test]",
        "_assertion_pass: Callable[[int, str, str], None] | None = None",
        '    """Setup the pytest_assertrepr_compare and pytest_assertion_pass hooks.',
        "        # These variables are populated from the first-pass PreBuildVisitor.",
    ],
)
def test_references_and_words_stay_clean(line: str) -> None:
    assert findings(f"{line}\n".encode()) == []


def test_hook_rejects_each_missed_kind(tmp_path: Path) -> None:
    """The audit's reproduction: ``kops-gitsync hook no-secrets t.txt`` exited 0."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    names = []
    for i, (line, _) in enumerate(MISSED.values()):
        (tmp_path / f"t{i}.txt").write_text(line + "\n")
        names.append(f"t{i}.txt")
    (tmp_path / "pass.yaml").write_text("env:\n- name: DB_PASS\n  value: Hunter2xyz\n")
    names.append("pass.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "kops_gitsync", "hook", "no-secrets", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    for name in names:
        assert f"{name}:" in done.stdout + done.stderr, (name, done.stdout, done.stderr)
