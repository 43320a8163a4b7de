"""botocore's data files kept between processes (vfs/s3_models.py): what is read back is
what botocore loads, a damaged file or an override folder means botocore's own loading,
and a client made from the cache talks to a real S3 server (moto)."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

import botocore
from botocore.loaders import Loader

from kops_gitsync.vfs.s3_models import CachingLoader
from tests.servers.s3 import admin_client, new_bucket, s3_env

BUILTIN = [Loader.BUILTIN_DATA_PATH]


def test_what_is_read_back_is_what_botocore_loads(tmp_path: Path) -> None:
    CachingLoader(BUILTIN, tmp_path).load_service_model("s3", "service-2")
    CachingLoader(BUILTIN, tmp_path).load_data_with_path("endpoints")
    folder = tmp_path / f"botocore-{botocore.__version__}"
    assert sorted(p.name for p in folder.iterdir()) == [
        "endpoints.with-path.marshal", "s3.service-2.latest.marshal"]
    again = CachingLoader(BUILTIN, tmp_path)
    assert again.load_service_model("s3", "service-2") == Loader().load_service_model(
        "s3", "service-2")
    data, path = again.load_data_with_path("endpoints")
    assert (data, path) == Loader().load_data_with_path("endpoints")
    # The key order botocore's model relies on (members serialised in order) survives.
    shape = again.load_service_model("s3", "service-2")["shapes"]["PutObjectRequest"]
    assert list(shape["members"])[:3] == ["ACL", "Body", "Bucket"]


def test_the_cache_is_what_a_later_loader_reads(tmp_path: Path) -> None:
    CachingLoader(BUILTIN, tmp_path).load_data_with_path("partitions")
    file = tmp_path / f"botocore-{botocore.__version__}" / "partitions.with-path.marshal"
    file.write_bytes(marshal.dumps([{"marker": True}, "somewhere"]))
    assert CachingLoader(BUILTIN, tmp_path).load_data_with_path("partitions") == (
        {"marker": True}, "somewhere")


def test_a_damaged_file_means_botocores_own_loading(tmp_path: Path) -> None:
    CachingLoader(BUILTIN, tmp_path).load_data_with_path("partitions")
    file = tmp_path / f"botocore-{botocore.__version__}" / "partitions.with-path.marshal"
    file.write_bytes(b"\x00garbage")
    expected = Loader().load_data_with_path("partitions")
    assert CachingLoader(BUILTIN, tmp_path).load_data_with_path("partitions") == expected
    assert marshal.loads(file.read_bytes())[1] == expected[1]  # and written again


def test_an_override_folder_turns_the_cache_off(tmp_path: Path) -> None:
    models = tmp_path / "models"  # ~/.aws/models or AWS_DATA_PATH: may hold an s3 override
    models.mkdir()
    loader = CachingLoader([str(models), *BUILTIN], tmp_path / "cache")
    loader.load_service_model("s3", "service-2")
    assert loader.folder is None
    assert not (tmp_path / "cache").exists()


def test_a_cli_run_fills_the_cache_and_the_next_one_works_from_it(
    tmp_path: Path, moto_server: str
) -> None:
    bucket = new_bucket(moto_server)
    admin_client(moto_server).put_object(Bucket=bucket, Key="c/config", Body=b"x")
    env = {**os.environ, **s3_env(moto_server), "KOPS_GITSYNC_CACHE_DIR": str(tmp_path)}
    script = ("import sys; from kops_gitsync.vfs.s3 import S3Store; "
              f"s = S3Store.from_url('s3://{bucket}', {{**__import__('os').environ}}); "
              "print([o.key for o in s.list()], s.read('c/config').data)")
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, check=True)
        assert done.stdout.strip() == "['c/config'] b'x'"
    folder = tmp_path / f"botocore-{botocore.__version__}"
    assert (folder / "s3.service-2.latest.marshal").is_file()
