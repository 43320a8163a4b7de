"""Bad input: a clear one-line error, and nothing written to the repo or the store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kops_gitsync.vfs.base import Blob
from kops_gitsync.vfs.memfs import _TREES, MemoryStore
from tests.core.conftest import Run, git


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref") + git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize("bad_key", ["c.example.com/../../etc/passwd", "/abs/config", "a//b"])
def test_unsafe_store_keys_stop_the_pull(repo: Path, cli: Callable[..., Run], bad_key: str) -> None:
    url = "memfs://bad-keys"
    store = MemoryStore(url)
    store.write("c.example.com/config", b"kind: Cluster\n")
    _TREES[url][bad_key] = Blob(b"evil", "g0")  # a key the store API itself would refuse
    try:
        before = refs(repo)
        result = cli("pull", "--state", url, cwd=repo)
        assert result.code == 1
        assert "cannot be mirrored safely" in result.err and "Nothing was written" in result.err
        assert refs(repo) == before
        assert not (repo / "state").exists() and not (repo.parent / "etc").exists()
    finally:
        MemoryStore.reset(url)


def test_non_utf8_file_name_in_store(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    store = make_store("minimal-aws")
    os.close(os.open(os.path.join(os.fsencode(store), b"bad-\xff-name"), os.O_CREAT | os.O_WRONLY))
    before = refs(repo)
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1 and "not valid UTF-8" in result.err
    assert refs(repo) == before


def test_file_and_folder_with_one_name(repo: Path, cli: Callable[..., Run]) -> None:
    url = "memfs://collide"
    store = MemoryStore(url)
    store.write("c/instancegroup", b"x")
    store.write("c/instancegroup/nodes", b"y")
    try:
        result = cli("pull", "--state", url, cwd=repo)
        assert result.code == 1 and "object and a folder" in result.err
    finally:
        MemoryStore.reset(url)


def test_missing_store(repo: Path, cli: Callable[..., Run], tmp_path: Path) -> None:
    result = cli("pull", "--state", f"file://{tmp_path}/no-such-store", cwd=repo)
    assert result.code == 1 and "does not exist" in result.err
    assert "Traceback" not in result.err


def test_empty_store_is_refused(repo: Path, cli: Callable[..., Run], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("pull", "--state", f"file://{empty}", cwd=repo)
    assert result.code == 1 and "lists no objects" in result.err


def test_store_emptied_after_a_pull_is_not_mirrored_as_deletion(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    store = make_store("minimal-aws")
    cli("pull", "--state", f"file://{store}", cwd=repo)
    before = refs(repo)
    for path in sorted(store.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1 and "lost everything git holds" in result.err
    assert refs(repo) == before


def test_missing_repo(cli: Callable[..., Run], tmp_path: Path) -> None:
    result = cli("pull", "--repo", str(tmp_path / "nope"), "--state", "memfs://x")
    assert result.code == 1 and "not a git repository" in result.err


def test_no_state_store_anywhere(repo: Path, cli: Callable[..., Run]) -> None:
    result = cli("pull", cwd=repo)
    assert result.code == 1 and "KOPS_STATE_STORE" in result.err


def test_unknown_scheme_and_missing_sdk_hint(repo: Path, cli: Callable[..., Run]) -> None:
    result = cli("pull", "--state", "ftp://bucket", cwd=repo)
    assert result.code == 1 and "unknown state store scheme" in result.err


def test_malformed_config_file(repo: Path, cli: Callable[..., Run]) -> None:
    (repo / ".kops-gitsync.yaml").write_text(
        "stores:\n  - name: a\n    state: memfs://x\n    approved: [main]\n"
    )
    result = cli("pull", cwd=repo)
    assert result.code == 1
    assert ".kops-gitsync.yaml:4: stores[0].approved: unknown key" in result.err


def test_store_url_change_is_caught(
    repo: Path, cli: Callable[..., Run], make_store: Callable[[str], Path]
) -> None:
    first = make_store("minimal-aws")
    second = make_store("ha")
    cli("pull", "--state", f"file://{first}", cwd=repo)
    result = cli("pull", "--state", f"file://{second}", cwd=repo)
    assert result.code == 1 and "was mirrored from" in result.err


def test_memfs_store_through_cli(repo: Path, cli: Callable[..., Run]) -> None:
    url = "memfs://clusters.example.com"
    store = MemoryStore(url)
    store.write("c.example.com/config", b"kind: Cluster\n")
    store.write("c.example.com/instancegroup/nodes", b"kind: InstanceGroup\n")
    try:
        assert cli("pull", "--state", url, cwd=repo).code == 0
        (repo / "state/c.example.com/instancegroup/nodes").write_text("kind: InstanceGroup\n# 2\n")
        git(repo, "commit", "-qam", "edit")
        v_before = store.read("c.example.com/instancegroup/nodes").version
        assert cli("push", "--state", url, "--yes", "--skip-validation", cwd=repo).code == 0
        after = store.read("c.example.com/instancegroup/nodes")
        assert after.data.endswith(b"# 2\n") and after.version != v_before
    finally:
        MemoryStore.reset(url)


def test_store_disappearing_mid_pull_records_nothing(
    repo: Path,
    cli: Callable[..., Run],
    make_store: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from kops_gitsync.vfs.file import FileStore

    store = make_store("minimal-aws")
    real_read = FileStore.read
    calls = {"n": 0}

    def read_then_vanish(self: FileStore, key: str, *, max_bytes: int | None = None) -> Blob:
        calls["n"] += 1
        if calls["n"] == 3 and store.exists():
            shutil.rmtree(store)  # the bucket is deleted under our feet
        return real_read(self, key, max_bytes=max_bytes)

    monkeypatch.setattr(FileStore, "read", read_then_vanish)
    before = refs(repo)
    result = cli("pull", "--state", f"file://{store}", cwd=repo)
    assert result.code == 1
    assert "does not exist" in result.err or "emptied" in result.err
    assert refs(repo) == before
    assert not (repo / "state").exists()
