"""Store resolution in kops' order, and .kops-gitsync.yaml errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kops_gitsync.config.kops_resolution import resolve_state_store
from kops_gitsync.config.repo_config import parse_repo_config
from kops_gitsync.errors import FatalError


def test_flag_beats_env_beats_files(tmp_path: Path) -> None:
    (tmp_path / ".kops.yaml").write_text("kops_state_store: s3://from-yaml\n")
    (tmp_path / ".kops").mkdir()
    (tmp_path / ".kops" / "config").write_text("kops_state_store: s3://from-config\n")
    env = {"KOPS_STATE_STORE": "s3://from-env"}
    assert resolve_state_store("s3://flag", env, tmp_path) == ("s3://flag", "--state")
    assert resolve_state_store(None, env, tmp_path)[0] == "s3://from-env"
    assert resolve_state_store(None, {}, tmp_path)[0] == "s3://from-yaml"
    (tmp_path / ".kops.yaml").unlink()
    assert resolve_state_store(None, {}, tmp_path)[0] == "s3://from-config"


def test_config_file_key_ignores_case_like_viper(tmp_path: Path) -> None:
    (tmp_path / ".kops.yaml").write_text("KOPS_STATE_STORE: gs://upper\n")
    assert resolve_state_store(None, {}, tmp_path)[0] == "gs://upper"


def test_exactly_one_trailing_slash_is_trimmed(tmp_path: Path) -> None:
    assert resolve_state_store("s3://b/", {}, tmp_path)[0] == "s3://b"
    assert resolve_state_store("s3://b//", {}, tmp_path)[0] == "s3://b/"


def test_nothing_set_names_all_four_places(tmp_path: Path) -> None:
    with pytest.raises(FatalError) as err:
        resolve_state_store(None, {}, tmp_path)
    message = str(err.value)
    for place in ("--state", "KOPS_STATE_STORE", ".kops.yaml", ".kops/config"):
        assert place in message


def test_unreadable_kops_config_is_skipped_like_kops(tmp_path: Path) -> None:
    (tmp_path / ".kops.yaml").write_text("kops_state_store: [unterminated\n")
    with pytest.raises(FatalError):
        resolve_state_store(None, {}, tmp_path)


def config_error(text: str) -> str:
    with pytest.raises(FatalError) as err:
        parse_repo_config(text.encode(), Path("/repo/.kops-gitsync.yaml"))
    return str(err.value)


def test_unknown_key_names_file_line_and_suggestion() -> None:
    message = config_error("stores:\n  - name: prod\n    state: s3://b\n    maxdelete: 5\n")
    assert message.startswith("/repo/.kops-gitsync.yaml:4: stores[0].maxdelete: unknown key")
    assert "did you mean 'max_delete'" in message


def test_wrong_type_names_line_and_key() -> None:
    message = config_error("stores:\n  - name: prod\n    production: yes-please\n")
    assert message.startswith("/repo/.kops-gitsync.yaml:3: stores[0].production:")
    assert "boolean" in message


def test_bad_value_and_malformed_yaml() -> None:
    assert ":3: stores[0].max_delete" in config_error(
        "stores:\n  - name: a\n    max_delete: 150%\n"
    )
    assert "not valid YAML" in config_error("stores: [\n")
    assert "not UTF-8" in config_error_bytes(b"stores:\n  - name: \xff\n")


def config_error_bytes(raw: bytes) -> str:
    with pytest.raises(FatalError) as err:
        parse_repo_config(raw, Path("/repo/.kops-gitsync.yaml"))
    return str(err.value)


@pytest.mark.parametrize("path", ["..", "../x", "/abs", ".", ".git/x", ".kops-gitsync"])
def test_mirror_path_must_stay_inside_repo(path: str) -> None:
    assert "must be a relative folder" in config_error(
        f"stores:\n  - name: a\n    path: '{path}'\n"
    )


def test_overlapping_paths_and_duplicate_names() -> None:
    assert "overlapping" in config_error(
        "stores:\n  - {name: a, path: state}\n  - {name: b, path: state/b}\n"
    )
    assert "unique" in config_error("stores:\n  - {name: a, path: x}\n  - {name: a, path: y}\n")


def test_defaults_for_several_stores() -> None:
    config = parse_repo_config(
        b"stores:\n  - name: prod\n    production: true\n  - name: dev\n", Path("c.yaml")
    )
    assert [s.path for s in config.stores] == ["state/prod", "state/dev"]
    prod = config.store("prod")
    assert prod.production and prod.approves("main", "main") and not prod.approves("dev", "main")
    assert prod.max_delete_count(100) == 20
