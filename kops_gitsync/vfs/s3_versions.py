"""Listing an S3 bucket's kept versions (``ListObjectVersions``); reading one is the same
GetObject as a read, with a ``VersionId`` (``S3Store._get_object``).

Kept apart from ``vfs/s3.py`` because only ``pull --history`` needs it. A bucket whose
versioning was never enabled answers ListObjectVersions with one ``null`` version per live
object, which is no history at all, so the bucket's versioning status is asked first and a
bucket that never kept versions is named as such instead of "importing" only the present.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.base import ObjectVersion

if TYPE_CHECKING:
    from kops_gitsync.vfs.s3 import S3Store


def list_versions(store: S3Store, prefix: str = "") -> Iterator[ObjectVersion]:
    client, bucket, root = store._client, store.settings.bucket, store.settings.prefix
    answer = store._call(lambda: client.get_bucket_versioning(Bucket=bucket), None)
    if answer.get("Status") not in ("Enabled", "Suspended"):
        raise FatalError(
            f"{store.url}: bucket {bucket!r} keeps no versions (versioning was never enabled), "
            "so it has no history to import beyond its present state; turn it on with "
            f"`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
            "Status=Enabled` to keep history from now on"
        )
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": root + prefix}
    while True:
        page = store._call(lambda: client.list_object_versions(**args), None)
        for entry in page.get("Versions", []):
            key = entry["Key"][len(root):]
            if key.endswith("/") and entry["Size"] == 0:
                continue  # a console "folder" marker
            yield ObjectVersion(key, entry["VersionId"], entry["ETag"].strip('"'),
                                entry["LastModified"].timestamp(), int(entry["Size"]))
        for entry in page.get("DeleteMarkers", []):
            key = entry["Key"][len(root):]
            if not key.endswith("/"):
                yield ObjectVersion(key, entry["VersionId"], "",
                                    entry["LastModified"].timestamp(), 0, deleted=True)
        if not page.get("IsTruncated"):
            return
        args["KeyMarker"] = page.get("NextKeyMarker", "")
        if page.get("NextVersionIdMarker"):
            args["VersionIdMarker"] = page["NextVersionIdMarker"]
        else:
            args.pop("VersionIdMarker", None)

