"""Well-known token formats, confirmed by detect-secrets' plugins.

detect-secrets (Yelp) keeps the regular expressions for provider tokens up to date (GitHub,
GitLab, Slack, Stripe, JWT, Azure storage keys, URL credentials, private key headers, ...);
we use its plugin classes directly, not its scan engine, for two reasons:

* cost: importing detect-secrets takes ~0.1 s and its default scan runs ~9 s per MB of kops
  objects. Each rule here first asks whether a lower-case literal the token must contain
  occurs at all (``bytes.__contains__``, memory-speed), then locates candidates with one
  anchored regex, and only the lines (clipped windows of long lines) holding a candidate
  are decoded and handed to the plugin. The library is imported on the first candidate, so
  a commit or a pull of ordinary kops objects never imports it.
* precision: its keyword and high-entropy plugins flag base64 certificates and names such
  as ``"secretStore": "s3://..."`` everywhere in a kops store; kops_gitsync.secrets
  .assignments replaces them with rules that know YAML, env lists and shell.

Plugins whose tokens have no literal anchor (Twilio, Discord, Telegram, Mailchimp,
Artifactory, IBM) are left out: they would need a full scan of every object, and none of
them is a place kops configuration puts credentials.
"""

from __future__ import annotations

import functools
import importlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kops_gitsync.errors import FatalError
from kops_gitsync.secrets.finding import Finding, Lines, placeholder

_BEFORE = 2048  # bytes of a long line kept before a candidate
_AFTER = 8192  # and after it (a service-account JWT is ~1 KB, a PGP block line < 100 B)


@dataclass(frozen=True)
class TokenRule:
    rule: str
    name: str
    literals: tuple[bytes, ...]  # lower-case; one must occur in the lower-cased data
    locate: re.Pattern[bytes]  # where candidates start
    plugin: str  # "<module>:<class>" under detect_secrets.plugins
    skip_placeholders: bool = False  # "https://user:${PASS}@host" is a template, not a leak
    # A plugin secret the locate pattern does not match is reported under this rule instead
    # (the AWS plugin finds key ids and quoted secret keys).
    other: tuple[str, str] | None = None


RULES: tuple[TokenRule, ...] = (
    TokenRule(
        "jwt",
        "JWT token",
        (b"eyj",),
        re.compile(rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_=-]{4,}+\.ey"),
        "jwt:JwtTokenDetector",
    ),
    TokenRule(
        "github-token",
        "GitHub token",
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"),
        re.compile(rb"gh[pousr]_[A-Za-z0-9_]{36}"),
        "github_token:GitHubTokenDetector",
    ),
    TokenRule(
        "gitlab-token",
        "GitLab token",
        (
            b"glpat-",
            b"gldt-",
            b"glft-",
            b"glsoat-",
            b"glrt-",
            b"gr1348941",
            b"glcbt-",
            b"glimt-",
            b"glptt-",
            b"glagent-",
            b"gloas-",
        ),
        re.compile(rb"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-|GR1348941"),
        "gitlab_token:GitLabTokenDetector",
    ),
    TokenRule(
        "slack-token",
        "Slack token",
        (b"xox", b"hooks.slack.com"),
        re.compile(rb"(?i:xox[abposr]-)|hooks\.slack\.com/services/"),
        "slack:SlackDetector",
    ),
    TokenRule(
        "stripe-key",
        "Stripe key",
        (b"k_live_",),
        re.compile(rb"[rs]k_live_"),
        "stripe:StripeDetector",
    ),
    TokenRule(
        "azure-storage-key",
        "Azure storage account key",
        (b"accountkey=",),
        re.compile(rb"AccountKey="),
        "azure_storage_key:AzureStorageKeyDetector",
    ),
    TokenRule(
        "pem-private-key",
        "PEM private key",
        (b"private key", b"putty-user-key-file"),
        re.compile(rb"BEGIN [A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File"),
        "private_key:PrivateKeyDetector",
    ),
    TokenRule(
        "url-credentials",
        "Credentials in URL",
        (b"://",),
        re.compile(rb"://[^\s:/?#\[\]@]+:[^\s/?#\[\]@]+@"),
        "basic_auth:BasicAuthDetector",
        skip_placeholders=True,
    ),
    TokenRule(
        "aws-access-key",
        "AWS access key id",
        (b"akia", b"asia", b"abia", b"acca", b"a3t"),
        re.compile(rb"(?<![A-Z0-9])(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
        "aws:AWSKeyDetector",
        other=("aws-secret-key", "AWS secret key"),
    ),
    TokenRule(
        "npm-token",
        "npm token",
        (b"_authtoken",),
        re.compile(rb"_authToken="),
        "npm:NpmDetector",
    ),
    TokenRule(
        "pypi-token",
        "PyPI token",
        (b"pypi-ag",),
        re.compile(rb"pypi-Ag"),
        "pypi_token:PypiTokenDetector",
    ),
    TokenRule(
        "sendgrid-key",
        "SendGrid API key",
        (b"sg.",),
        re.compile(rb"SG\.[A-Za-z0-9_-]{22}\."),
        "sendgrid:SendGridDetector",
    ),
    TokenRule(
        "openai-key",
        "OpenAI API key",
        (b"t3blbkfj",),
        re.compile(rb"T3BlbkFJ"),
        "openai:OpenAIDetector",
    ),
    TokenRule(
        "square-secret",
        "Square OAuth secret",
        (b"sq0csp-",),
        re.compile(rb"sq0csp-"),
        "square_oauth:SquareOAuthDetector",
    ),
)


# Formats detect-secrets 1.5 has no plugin for, matched here by their documented prefixes:
# fine-grained GitHub tokens, DigitalOcean tokens (a kops cloud), Google API keys (GCE).
OWN_FORMATS: tuple[tuple[str, str, bytes, re.Pattern[bytes]], ...] = (
    ("github-token", "GitHub token", b"github_pat_", re.compile(rb"github_pat_[A-Za-z0-9_]{50,}")),
    ("digitalocean-token", "DigitalOcean token", b"_v1_", re.compile(rb"do[opr]_v1_[a-f0-9]{64}")),
    ("google-api-key", "Google API key", b"aiza", re.compile(rb"AIza[0-9A-Za-z_-]{35}")),
)


@functools.cache
def _hint(literals: tuple[bytes, ...]) -> bytes | re.Pattern[bytes]:
    """One test for a rule's literals: ``in`` for one, else an alternation, which the regex
    compiler turns into a search for the common prefix ("gh", "gl"): 5-15x faster than a
    full ``in`` scan per literal."""
    if len(literals) == 1:
        return literals[0]
    return re.compile(b"|".join(re.escape(literal) for literal in literals))


# detect-secrets' plugin modules import each other through the package; two threads making
# the first import of two of them at once deadlock on the import system's module locks
# (``_DeadlockError``, seen in pull's 16 reader threads). All of our imports of the library
# go through this lock; once a plugin is cached, reading it takes no lock.
_IMPORT_LOCK = threading.Lock()
_PLUGINS: dict[str, Any] = {}


def _plugin(spec: str) -> Any:
    """The detect-secrets plugin instance for ``spec``, imported on first use (thread-safe)."""
    plugin = _PLUGINS.get(spec)
    if plugin is None:
        with _IMPORT_LOCK:
            plugin = _PLUGINS.get(spec)
            if plugin is None:
                plugin = _PLUGINS[spec] = _load(spec)
    return plugin


def _load(spec: str) -> Any:
    module, _, cls = spec.partition(":")
    try:
        return getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)()
    except ImportError as err:  # a broken install must not let secrets through silently
        raise FatalError(
            f"secret scan: cannot load detect-secrets ({err}); reinstall kops-gitsync"
        ) from err


def _windows(data: bytes, starts: list[int]) -> list[tuple[int, int]]:
    """Candidate lines (clipped around the candidate when long), overlaps merged, so the
    plugin reads each byte at most once however many candidates a line holds."""
    spans: list[tuple[int, int]] = []
    first = last = -1
    for start in starts:  # ascending
        if start > last:  # a new line: find its bounds once, not once per candidate
            first = data.rfind(b"\n", 0, start) + 1
            end = data.find(b"\n", start)
            last = len(data) if end < 0 else end
        a, b = max(first, start - _BEFORE), min(last, start + _AFTER)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def find(data: bytes, lowered: bytes, line_of: Lines) -> Iterator[Finding]:
    """Findings of every token rule; ``lowered`` is ``data.lower()`` (computed once)."""
    for rule_id, name, literal, pattern in OWN_FORMATS:
        if literal in lowered:
            for match in pattern.finditer(data):
                yield Finding(line_of(match.start()), rule_id, name)
    for rule in RULES:
        hint = _hint(rule.literals)
        if not (hint in lowered if isinstance(hint, bytes) else hint.search(lowered)):
            continue
        starts = [m.start() for m in rule.locate.finditer(data)]
        if not starts:
            continue
        plugin = _plugin(rule.plugin)
        for a, b in _windows(data, starts):
            line = line_of(a)
            text = data[a:b].decode("utf-8", "replace")
            for secret in set(plugin.analyze_string(text)):
                if rule.skip_placeholders and placeholder(secret.encode("utf-8", "replace")):
                    continue
                where = line + text.count("\n", 0, max(text.find(secret), 0))
                raw = secret.encode("utf-8", "replace")
                if rule.other and not rule.locate.search(raw):
                    yield Finding(where, *rule.other)
                else:
                    yield Finding(where, rule.rule, rule.name)
