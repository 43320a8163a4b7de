""".kops-gitsync.yaml input that used to hang, crash or pass: bounded, exact, complete errors.

Issue 14 (bounded input: alias bombs, deep nesting, bad patterns, NaN) and issue 9 (say the
allowed forms, report every error, call a duplicate a duplicate), plus mirror paths git
treats specially. The fuzz tests assert the only outcomes are a RepoConfig or a FatalError,
within a time bound, for any bytes and any YAML structure.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_gitsync.config.repo_config import RepoConfig, parse_repo_config
from kops_gitsync.errors import FatalError
from kops_gitsync.sync.policy import Policy

SOURCE = Path("/repo/.kops-gitsync.yaml")


def error_of(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(FatalError) as err:
        parse_repo_config(raw, SOURCE)
    return str(err.value)


def timed_error(raw: bytes, limit: float = 5.0) -> str:
    started = time.monotonic()
    message = error_of(raw)
    assert time.monotonic() - started < limit
    return message


def alias_bomb(key: str) -> bytes:
    """``key`` lists of aliases of aliases: 9**9 patterns once expanded."""
    lines = ["stores:", "  - name: a", f"    {key}: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    k{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines.append(f"    {key}: *l8")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("key", ["exclude", "include", "approved_branches"])
def test_alias_bomb_in_an_allowed_key_stops_quickly(key: str) -> None:
    assert "more than" in timed_error(alias_bomb(key))


def test_long_list_under_the_node_budget_is_cut_at_the_list_limit() -> None:
    # 90,000 patterns: below the loader's node budget, far above the list limit
    raw = b"stores:\n  - name: a\n    exclude: [" + b"a," * 90_000 + b"]\n"
    message = timed_error(raw, limit=3.0)
    assert message == f"{SOURCE}:3: stores[0].exclude: 90000 items; at most 1000"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{", "}")])
def test_deep_nesting_is_an_error_not_a_recursion_error(opening: str, closing: str) -> None:
    raw = f"stores: {opening * 5000}{closing * 5000}\n".encode()
    message = timed_error(raw)
    # libyaml's own limit (newer PyYAML) or the loader's depth budget (PyYAML 6.0): either
    # way one line naming the file, never a RecursionError
    assert message.startswith(f"{SOURCE}:1: "), message
    assert "not valid YAML" in message or "nests deeper than 100 levels" in message, message


def test_oversized_file_is_refused_before_parsing() -> None:
    raw = b"stores:\n  - name: a\n" + b"#" * (300 * 1024) + b"\n"
    assert "byte limit" in timed_error(raw)


@pytest.mark.parametrize("key", ["include", "exclude"])
def test_bad_gitwildmatch_pattern_names_file_line_and_pattern(key: str) -> None:
    message = error_of(f"stores:\n  - name: a\n    {key}:\n      - ok/*\n      - '[z-a]'\n")
    assert message.startswith(f"{SOURCE}:5: stores[0].{key}[1]: '[z-a]' is not a gitignore")


def test_every_accepted_pattern_compiles_where_it_is_used() -> None:
    config = parse_repo_config(
        b"stores:\n  - name: a\n    include: ['*/config', 'x[a-z]']\n    exclude: ['!x']\n",
        SOURCE,
    )
    policy = Policy(config.stores[0])
    assert policy.selected("c/config") and not policy.selected("c/other")


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "1e400", "0", "-5"])
def test_interval_must_be_a_finite_positive_number(value: str) -> None:
    message = error_of(f"stores:\n  - name: a\n    interval: {value}\n")
    assert message.startswith(f"{SOURCE}:3: stores[0].interval:")
    assert "a number of seconds above 0" in message


@pytest.mark.parametrize(
    "path",
    [".GIT", ".Git/hooks", "x/.git", "x/.Git/y", ".gitattributes", "a/.gitmodules", ".git.",
     "GIT~1", "a/.g\u200cit", "a//b", "a\\b", ":(glob)x", "st*te", "./state", ".KOPS-GITSYNC"],
)
def test_paths_git_treats_specially_are_refused(path: str) -> None:
    message = error_of(f'stores:\n  - name: a\n    path: "{path}"\n')
    assert message.startswith(f"{SOURCE}:3: stores[0].path:")
    assert "must be a relative folder" in message


@pytest.mark.parametrize("path", ["state", "state/", "mirror/prod", "git/x", "x.git"])
def test_ordinary_paths_are_accepted(path: str) -> None:
    config = parse_repo_config(f"stores:\n  - name: a\n    path: {path}\n".encode(), SOURCE)
    assert config.stores[0].path == path


def test_max_delete_error_says_the_allowed_forms() -> None:
    message = error_of("stores:\n  - name: a\n    max_delete: lots\n")
    assert message == (
        f"{SOURCE}:3: stores[0].max_delete: 'lots' is not allowed; "
        "expected a count like 10 or a share like 20%"
    )


def test_every_error_is_reported_in_file_order() -> None:
    message = error_of(
        "stores:\n"
        "  - name: a\n"
        "    max_delete: lots\n"
        "    secrets: maybe\n"
        "    colour: blue\n"
        "  - name: b\n"
        "    interval: .nan\n"
        "    production: sometimes\n"
    )
    lines = message.splitlines()
    assert lines[0] == f"{SOURCE}: 5 problems:"
    assert [line.split(": ")[1] for line in lines[1:]] == [
        "stores[0].max_delete",
        "stores[0].secrets",
        "stores[0].colour",
        "stores[1].interval",
        "stores[1].production",
    ]
    assert [line.split(":")[1] for line in lines[1:]] == ["3", "4", "5", "7", "8"]
    assert "expected exclude or include" in lines[2]
    assert "true or false" in lines[5]


def test_thousands_of_errors_are_counted_and_the_first_200_shown() -> None:
    raw = b"stores:\n  - name: a\n    include: [" + b"'[z-a]'," * 900 + b"]\n"
    lines = timed_error(raw).splitlines()
    assert lines[0] == f"{SOURCE}: 900 problems:"
    assert len(lines) == 202 and lines[-1] == "... and 700 more"


def test_two_stores_named_alike_are_called_duplicates() -> None:
    message = error_of("stores:\n  - name: a\n  - name: a\n")
    assert message == (
        f"{SOURCE}:3: stores[1].name: duplicate store name 'a' (first used on line 2); "
        "store names must be unique: each names an observed ref and a sync state"
    )
    assert "duplicate store name 'a'" in error_of(
        "stores:\n  - {name: a, path: x}\n  - {name: a, path: y}\n"
    )


def test_duplicate_key_and_second_document_are_reported() -> None:
    message = error_of("stores:\n  - name: a\n    secrets: include\n    secrets: exclude\n")
    assert message.startswith(f"{SOURCE}:4: stores[0].secrets: key 'secrets' repeats")
    assert "second YAML document" in error_of("stores:\n  - name: a\n---\nstores: []\n")


def test_missing_name_and_overlap_are_reported_together() -> None:
    message = error_of(
        "stores:\n  - state: s3://x\n  - {name: b, path: m}\n  - {name: c, path: M/c}\n"
    )
    assert "stores[0]: a store needs a `name`" in message
    assert "overlapping folders 'm' and 'M/c'" in message


# ---- fuzz: any input either parses or is a FatalError, quickly -------------------------

KEYS = ["stores", "name", "state", "path", "production", "approved_branches", "include",
        "exclude", "secrets", "max_delete", "push_derived", "auto_push", "interval"]
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["[z-a]", ".git", ".GIT/x", "20%", "150%", "../x", "*", "#", "\\", "!"])
)
keys = st.sampled_from(KEYS) | scalars.filter(lambda v: v is None or isinstance(v, str | int))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=40,
)


def parses_or_fails_cleanly(raw: bytes) -> None:
    started = time.monotonic()
    try:
        result = parse_repo_config(raw, SOURCE)
    except FatalError as exc:
        assert str(exc).startswith(str(SOURCE))
    else:
        assert isinstance(result, RepoConfig)
        for store in result.stores:
            Policy(store).selected("cluster/config")
            store.approves("main", "main")
    assert time.monotonic() - started < 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(raw: bytes) -> None:
    parses_or_fails_cleanly(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fuzz_random_yaml_structures(data: object) -> None:
    parses_or_fails_cleanly(yaml.safe_dump(data, allow_unicode=True).encode())
    parses_or_fails_cleanly(yaml.safe_dump({"stores": [data]}, allow_unicode=True).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS[1:]), documents, max_size=8))
def test_fuzz_store_entries(entry: dict[str, object]) -> None:
    doc = {"stores": [{"name": "a", **entry}]}
    parses_or_fails_cleanly(yaml.safe_dump(doc, allow_unicode=True).encode())
