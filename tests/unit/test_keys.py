"""Hostile object keys: git control files, control characters, oversized names (issue 14)."""

from __future__ import annotations

import pytest

from kops_gitsync.validate import Finding
from kops_gitsync.validate.report import format_finding, format_text
from kops_gitsync.vfs.keys import key_problem, printable

GIT_CONTROL = [
    "c.example.com/.gitattributes", "c.example.com/.gitignore", "c.example.com/.gitmodules",
    ".git", ".GIT/config", "c/.Gitattributes", "c/instancegroup/.gitkeep", ".mailmap",
    "c/.MailMap", "c/GIT~1/config", ".gitignore",
]
CONTROL = [
    "c/config\nfake line", "c/con\rfig", "c/tab\tbed", "c/\x1b[31mred", "c/del\x7f",
    "c/c1\x85", "c/bidi\u202eevil", "c/zero\u200bwidth", "c/line\u2028sep",
]


@pytest.mark.parametrize("key", GIT_CONTROL)
def test_git_control_files_are_refused(key: str) -> None:
    assert key_problem(key) is not None


@pytest.mark.parametrize("key", CONTROL)
def test_control_characters_are_refused(key: str) -> None:
    problem = key_problem(key)
    assert problem is not None and "U+" in problem


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("c/" + "x" * 256, "255 bytes"),
        ("c/" + "é" * 128, "255 bytes"),  # 256 bytes in UTF-8
        ("/".join(["a" * 200] * 6), "1024 bytes"),
        ("c/../x", "escape"),
        ("/abs", "absolute"),
        ("c//x", "escape"),
        ("c/x/", "escape"),
        ("", "empty"),
        ("c/bad-\udcff-name", "UTF-8"),
    ],
)
def test_malformed_keys_are_refused(key: str, why: str) -> None:
    problem = key_problem(key)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "key",
    ["c.example.com/config", "c/secrets/system:controller_manager", "c/with space/x",
     "c/ünïcødé/ключ", "c/" + "x" * 255, ".kops-gitsync.lock", "c/addons/git/v1.yaml",
     "c/github-runner"],
)
def test_ordinary_keys_pass(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize("key", [*CONTROL, "c/bad-\udcff-name", "c/back\\slash\\n"])
def test_printable_never_breaks_a_line(key: str) -> None:
    shown = printable(key)
    assert shown.isprintable(), shown
    assert "\n" not in shown and "\r" not in shown


def test_printable_is_unambiguous() -> None:
    assert printable("a\nb") != printable("a\\nb")
    assert printable("c/bad-\udcff") == "c/bad-\\xff"
    assert printable("c/ключ") == "c/ключ"


def test_validate_report_escapes_names() -> None:
    finding = Finding("state/c\n/x.yaml:1:1: fake: all good\nstate/c/config", 3, 1, "rule",
                      "instance group 'a\nb' is bad")
    line = format_finding(finding)
    assert "\n" not in line
    assert format_text([finding]).count("\n") == 1
