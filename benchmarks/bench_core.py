"""Core pull/push benchmark on file:// stores of N clusters (run by hand, prints figures).

    .venv/bin/python benchmarks/bench_core.py            # N = 100 and 1000
    .venv/bin/python benchmarks/bench_core.py 50 200     # other sizes

Each cluster is a copy of one of the shared fixture stores under a new folder name. For each N
it prints wall time, objects read (bodies fetched through Store.read) and objects written for:
a full pull, a no-op pull, an incremental pull after 10 same-size edits, and a push of 10
edits. The aim: the work grows with the number of changed objects, not with the store, apart
from the one listing (which for file:// hashes every file, as kops does).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "stores"
if not FIXTURES.exists():
    FIXTURES = ROOT / "examples"
sys.path.insert(0, str(ROOT))

from kops_gitsync.sync.context import open_contexts  # noqa: E402
from kops_gitsync.sync.pull import pull  # noqa: E402
from kops_gitsync.sync.push import push  # noqa: E402
from kops_gitsync.vfs.base import Blob  # noqa: E402

BUCKET = "kops-state"
_LOG_LINE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP')


class Counting:
    """Wraps a store and counts bodies read and objects written."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.url = inner.url
        self.capabilities = inner.capabilities
        self.reads = 0
        self.writes = 0

    def list(self, prefix: str = "") -> Iterator[Any]:
        return self.inner.list(prefix)  # type: ignore[no-any-return]

    def read(self, key: str) -> Blob:
        self.reads += 1
        return self.inner.read(key)  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes, **kw: Any) -> str:
        self.writes += 1
        return self.inner.write(key, data, **kw)  # type: ignore[no-any-return]

    def delete(self, key: str, **kw: Any) -> None:
        self.writes += 1
        self.inner.delete(key, **kw)

    def close(self) -> None:
        self.inner.close()


def build_store(root: Path, clusters: int) -> None:
    sources = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    for i in range(clusters):
        fixture = sources[i % len(sources)]
        cluster = next(p for p in fixture.iterdir() if p.is_dir())
        shutil.copytree(cluster, root / f"c{i:04d}.{cluster.name}")


def rename_clusters(root: Path) -> None:
    """Each copied cluster named after its folder everywhere, as if created so: push runs
    the kops checks on every cluster it writes to, and a copy still calling itself by the
    fixture's name fails them (which rclone would never notice)."""
    for folder in root.iterdir():
        original = folder.name.split(".", 1)[1].encode()
        for path in folder.rglob("*"):
            if path.is_file():
                path.write_bytes(path.read_bytes().replace(original, folder.name.encode()))


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def measure(label: str, fn: Any, store: Counting) -> Any:
    store.reads = store.writes = 0
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"  {label:28} {elapsed:8.2f} s   read {store.reads:6}   written {store.writes:4}")
    return result


def edit_ig_files(base: Path, count: int, old: bytes, new: bytes) -> list[Path]:
    edited = []
    for path in sorted(base.glob("*/instancegroup/*")):
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new, 1))
            edited.append(path)
        if len(edited) == count:
            break
    return edited


# -- moto: one server, buckets filled with fixture clusters, its request log --------------------


class MotoLog:
    """Counts the requests moto logged since the last mark, by kind (LIST, GET, ...)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def since_mark(self) -> Counter[str]:
        time.sleep(0.2)  # let moto flush its last lines
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode("utf-8", "replace")
        counts: Counter[str] = Counter()
        for method, target in _LOG_LINE.findall(text):
            path, _, query = target.partition("?")
            if method == "GET" and path.strip("/").count("/") == 0:
                kind = "LIST" if "list-type" in query or "prefix" in query or not query else "OTHER"
            elif method == "POST":
                kind = "DELETE" if "delete" in query else "OTHER"
            else:
                kind = method
            counts[kind] += 1
        return counts


def shown(counts: Counter[str] | dict[str, int]) -> str:
    order = ["LIST", "GET", "HEAD", "PUT", "DELETE", "OTHER"]
    return " ".join(f"{k}={counts[k]}" for k in order if counts.get(k))


def upload_tree(client: Any, local: Path, bucket: str = BUCKET) -> int:
    """Every file under ``local`` put into ``bucket`` (16 at a time); returns the count."""
    files = [p for p in sorted(local.rglob("*")) if p.is_file()]

    def put(path: Path) -> None:
        key = path.relative_to(local).as_posix()
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    return len(files)


@dataclass
class Moto:
    """A running moto server: its URL, an admin boto3 client and its request log."""

    work: Path
    endpoint: str
    client: Any
    log: MotoLog

    def fill(self, buckets: list[str], clusters: int, *, rename: bool = True) -> int:
        """Creates ``buckets``, each holding the same store of ``clusters`` fixture clusters
        (renamed inside to their folder name unless ``rename`` is false: push's kops checks
        refuse a copy that still calls itself by the fixture's name). Returns the objects
        per bucket."""
        data = self.work / f"data-{clusters}"
        build_store(data, clusters)
        if rename:
            rename_clusters(data)
        objects = 0
        for bucket in buckets:
            self.client.create_bucket(Bucket=bucket)
            objects = upload_tree(self.client, data, bucket)
        shutil.rmtree(data)
        return objects


@contextmanager
def moto_server(work: Path) -> Iterator[Moto]:
    """One moto server logging to ``work/moto.log``, stopped on the way out."""
    from tests.servers.s3 import admin_client, start_moto, stop_process

    endpoint, proc = start_moto(work / "moto.log")
    try:
        yield Moto(work, endpoint, admin_client(endpoint), MotoLog(work / "moto.log"))
    finally:
        stop_process(proc)


def run(clusters: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kgs-bench-") as tmp:
        store_dir, repo = Path(tmp) / "store", Path(tmp) / "repo"
        build_store(store_dir, clusters)
        objects = sum(1 for p in store_dir.rglob("*") if p.is_file())
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        print(f"N = {clusters} clusters, {objects} objects")
        ctx = open_contexts(repo, None, f"file://{store_dir}", os.environ)[0]
        counting = Counting(ctx.store)
        ctx.store = counting  # type: ignore[assignment]

        measure("full pull", lambda: pull(ctx), counting)
        measure("no-op pull", lambda: pull(ctx), counting)
        edit_ig_files(store_dir, 10, b"minSize: ", b"minSize:\t")  # same size
        measure("incremental pull (10 edits)", lambda: pull(ctx), counting)
        edited = edit_ig_files(repo / "state", 10, b"maxSize: ", b"maxSize:\t")
        git(repo, "commit", "-qam", "10 edits")
        result = measure("push of 10 edits", lambda: push(ctx, apply=True), counting)
        assert len(result.written) == len(edited), result.summary


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [100, 1000]:
        run(n)
