"""What a pull costs, counted rather than timed (issues 12 and 16).

* A no-op pull starts at most 3 git processes (find the repository, one ``cat-file
  --batch`` for every read, one ``git log`` for a teammate's newer store state) and writes
  nothing: no object, no ref, no index, no file in the work tree. Before: 12 processes.
* A full pull does not hold the store's bodies: they stream into git as they arrive. A
  store double makes every body on demand (it holds none itself), and tracemalloc's peak
  during the pull must stay far below the sum of the bodies; holding them all, as pull
  did, fails by a wide margin.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kops_gitsync.gitrepo import gitproc
from kops_gitsync.gitrepo import repo as repo_module
from kops_gitsync.sync.context import open_contexts
from kops_gitsync.sync.pull import pull
from kops_gitsync.vfs import registry
from kops_gitsync.vfs.base import Blob, Capabilities, ObjectInfo
from tests.core.conftest import Run, git

CLUSTER = "big.example.com"


def tree_state(repo: Path) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file in the work tree and the git dir: any write shows."""
    return {str(p.relative_to(repo)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in repo.rglob("*") if p.is_file()}


def test_a_no_op_pull_starts_at_most_three_git_processes_and_writes_nothing(
    pulled: tuple[Path, Path], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _store = pulled
    monkeypatch.setattr(repo_module, "_DISCOVERED", {})  # count finding the repository too
    spawned: list[list[str]] = []
    real = gitproc.spawn

    def counting(args: list[str], *rest: Any, **kw: Any) -> Any:
        spawned.append(args)
        return real(args, *rest, **kw)

    monkeypatch.setattr(gitproc, "spawn", counting)
    before = tree_state(repo)
    result = cli("pull", cwd=repo)
    assert result.code == 0 and "up to date" in result.out, result.err
    assert len(spawned) <= 3, [" ".join(a[:3]) for a in spawned]
    assert tree_state(repo) == before


# -- memory --------------------------------------------------------------------------------

BODY = 64 * 1024
OBJECTS = 800  # 50 MiB of bodies in all


def body(key: str) -> bytes:
    """Distinct, incompressible-looking bytes for ``key`` (made on each read)."""
    seed = hashlib.sha256(key.encode()).hexdigest().encode()
    return (seed * (BODY // len(seed) + 1))[:BODY - 1] + b"\n"


class GeneratedStore:
    """A store whose bodies exist only while somebody holds them."""

    capabilities = Capabilities(True, True, True, write_metadata=True)

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys = [f"{CLUSTER}/files/blob-{i:04d}" for i in range(OBJECTS)]

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> GeneratedStore:
        return cls(url)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in self.keys:
            if key.startswith(prefix):
                yield ObjectInfo(key, BODY, "v1")

    def read(self, key: str, *, max_bytes: int | None = None) -> Blob:
        return Blob(body(key), "v1")

    def close(self) -> None:
        pass


def test_a_full_pull_streams_bodies_into_git_instead_of_holding_them(
    repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "generated://memory-test"
    (repo / ".kops-gitsync.yaml").write_text(
        f'stores: [{{name: big, state: "{url}", max_object_size: 1000000}}]\n')
    git(repo, "add", ".kops-gitsync.yaml")
    git(repo, "commit", "-qm", "config")
    opener = registry.open_store

    def open_store(target: str, env: Mapping[str, str]) -> Any:
        return GeneratedStore(target) if target.startswith("generated://") else opener(
            target, env)

    monkeypatch.setattr("kops_gitsync.sync.context.open_store", open_store)
    ctx = open_contexts(repo, None, None, os.environ)[0]
    tracemalloc.start()
    try:
        result = pull(ctx, merge=False)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        ctx.close()
    assert len(result.added) == OBJECTS
    total = OBJECTS * BODY
    # A window of reads in flight (64 + 16 workers) is allowed, the whole store is not.
    assert peak < total / 3, f"peak {peak / 2**20:.1f} MiB for {total / 2**20:.0f} MiB of bodies"
    shown = git(repo, "cat-file", "-p",
                f"{result.observed_commit}:state/{CLUSTER}/files/blob-0007")
    assert shown.encode() == body(f"{CLUSTER}/files/blob-0007")


def test_the_sync_state_is_written_byte_for_byte_as_json_dumps_would() -> None:
    """to_bytes formats entries itself (json.dumps per entry was most of an incremental
    pull's CPU at 45,000 objects); the file must stay exactly what it was."""
    import json

    from kops_gitsync.sync.syncstate import Recorded, SyncState

    keys = ['a/é"q', "d/日本", "e/x y"]
    state = SyncState("s3://x", {k: Recorded(f'"e{i}\ttag"', i * 1000, "ab" * 32)
                                 for i, k in enumerate(keys)}, {"k": "v"})
    text = state.to_bytes().decode()
    for key, rec in state.objects.items():
        entry = json.dumps({"version": rec.version, "size": rec.size, "sha256": rec.sha256},
                           sort_keys=True, ensure_ascii=False)
        assert f"    {json.dumps(key, ensure_ascii=False)}: {entry}" in text
    assert SyncState.from_bytes(state.to_bytes(), "test") == state
    odd = SyncState("s3://x", {"b/\u2028tab\there\\": Recorded("v", 1, "ab")})
    assert json.dumps("b/\u2028tab\there\\", ensure_ascii=False) in odd.to_bytes().decode()
