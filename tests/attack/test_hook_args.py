"""The hooks' file arguments are user input too: ``kops-gitsync hook validate ../../x`` run
from a sub-folder (as an editor or ``pre-commit run --files`` may) named a path outside the
repository and ended in a ValueError traceback. Any path must give 0, 1 or 2 and a message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attack.helpers import CONFIG, Sandbox, assert_sane, cli, git, write_store

PATHS = ["../../../etc/passwd", "/etc/passwd", "..", "../..", "../repo/README.md", "/",
         "~", "sub/../../x", f"../state/{CONFIG}", "no/such/file", "./README.md", "."]


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path)
    write_store(box.store)
    assert cli("pull", "--state", f"file://{box.store}", cwd=box.repo).code == 0
    (box.repo / "sub").mkdir()
    return box


@pytest.mark.parametrize("where", ["root", "sub"])
@pytest.mark.parametrize("path", PATHS)
def test_any_file_argument_is_answered_not_crashed(box: Sandbox, where: str, path: str) -> None:
    cwd = box.repo if where == "root" else box.repo / "sub"
    for name in ("validate", "no-secrets", "no-derived-edits", "protect-production"):
        run = cli("hook", name, path, cwd=cwd)
        assert_sane(run, f"hook {name} {path} from {where}")
    box.assert_untouched()


def test_a_path_outside_the_repository_is_named(box: Sandbox) -> None:
    run = cli("hook", "validate", "../../../etc/passwd", cwd=box.repo / "sub")
    assert run.code == 1 and "etc/passwd" in run.err and "outside" in run.err, run.err


def test_an_absolute_path_inside_the_repository_is_checked(box: Sandbox) -> None:
    """An absolute path names the same index entry as the relative one."""
    target = box.repo / "state" / CONFIG
    target.write_bytes(target.read_bytes().replace(b"kind: Cluster", b"kind: Clusterr"))
    git(box.repo, "add", "-A")
    relative = cli("hook", "validate", f"state/{CONFIG}", cwd=box.repo)
    assert relative.code == 1, relative.text
    for cwd in (box.repo, box.repo / "sub"):
        absolute = cli("hook", "validate", str(target), cwd=cwd)
        assert absolute.code == 1, absolute.text


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(["..", ".", "state", "sub", "README.md", "x", "", "~"])
                      | st.text(alphabet=st.characters(blacklist_characters="\x00/"),
                                max_size=8), max_size=6),
       absolute=st.booleans(), sub=st.booleans())
def test_fuzzed_file_arguments(box: Sandbox, parts: list[str], absolute: bool, sub: bool) -> None:
    path = ("/" if absolute else "") + os.path.join(*parts) if parts else ""
    cwd = box.repo / "sub" if sub else box.repo
    assert_sane(cli("hook", "validate,no-secrets", path, cwd=cwd), f"hook {path!r}")


_SHA = st.sampled_from(["0" * 40, "f" * 40, "a" * 39, "HEAD", "", "g" * 40, "1" * 64])
_REF = st.sampled_from(["refs/heads/main", "refs/heads/x", "main", "", "refs/tags/v1",
                        "refs/heads/\x1b[2J", "refs/heads/a b"]) | st.text(max_size=12)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(_REF, _SHA, _REF, _SHA).map(" ".join)
                      | st.text(max_size=40), max_size=4))
def test_fuzzed_pre_push_lines(box: Sandbox, lines: list[str]) -> None:
    config = box.repo / ".kops-gitsync.yaml"
    if not config.exists():  # a production store, so that the hook has work to do
        config.write_text(f"stores:\n- name: default\n  path: state\n  production: true\n"
                          f"  state: file://{box.store}\n")
        git(box.repo, "add", "-A")
        git(box.repo, "commit", "-qm", "production", "--no-verify")
    head = git(box.repo, "rev-parse", "HEAD").strip()
    stdin = "\n".join([*lines, f"refs/heads/main {head} refs/heads/main {'0' * 40}"]) + "\n"
    run = cli("hook", "protect-production", "--pre-push", "origin", cwd=box.repo, stdin=stdin)
    assert_sane(run, f"pre-push {stdin!r}")
