"""Listing a GCS bucket's kept generations (``objects.list?versions=true``); reading one is
the same download as a read, of that generation (``GCSStore._download``).

Kept apart from ``vfs/gcs.py`` because only ``pull --history`` needs it. The listing is one
JSON API request per page through the client's authorised session, asking only for the
fields history needs. GCS records no deletion marker: a key with no live generation was
deleted when its newest generation became noncurrent (its ``timeDeleted``), which is what
this module reports as the deletion.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import google.api_core.exceptions as gexc

from kops_gitsync.errors import FatalError
from kops_gitsync.vfs.base import ObjectVersion

if TYPE_CHECKING:
    from kops_gitsync.vfs.gcs import GCSStore

_FIELDS = "items(name,size,generation,timeCreated,timeDeleted),nextPageToken"


def _time(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _pages(store: GCSStore, prefix: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        params: dict[str, Any] = {"prefix": store.settings.prefix + prefix, "versions": "true",
                                  "fields": _FIELDS, "maxResults": 1000}
        if token:
            params["pageToken"] = token
        url = store._client._connection.build_api_url(
            path=f"/b/{store.settings.bucket}/o", query_params=params)

        def get(url: str = url) -> dict[str, Any]:
            answer = store._client._http.get(url, timeout=store.timeouts.pair)
            if answer.status_code != 200:
                raise gexc.from_http_response(answer)  # type: ignore[no-untyped-call]
            page: dict[str, Any] = answer.json()
            return page

        page = store._call(get, None)
        yield page
        token = page.get("nextPageToken")
        if not token:
            return


def list_versions(store: GCSStore, prefix: str = "") -> Iterator[ObjectVersion]:
    root = store.settings.prefix
    by_key: dict[str, list[dict[str, Any]]] = {}
    for page in _pages(store, prefix):
        for item in page.get("items", []):
            key = item["name"][len(root):]
            if key.endswith("/") and not int(item.get("size") or 0):
                continue
            by_key.setdefault(key, []).append(item)
    if not any(item.get("timeDeleted") for items in by_key.values() for item in items):
        bucket = store._call(lambda: store._client.get_bucket(
            store.settings.bucket, retry=None, timeout=store.timeouts.pair), None)
        if not bucket.versioning_enabled:
            raise FatalError(
                f"{store.url}: bucket {store.settings.bucket!r} keeps no versions (object "
                "versioning is off), so it has no history to import beyond its present "
                f"state; turn it on with `gcloud storage buckets update "
                f"gs://{store.settings.bucket} --versioning` to keep history from now on"
            )
    for key, items in by_key.items():
        items.sort(key=lambda i: int(i["generation"]), reverse=True)  # newest first, as S3
        if items[0].get("timeDeleted"):  # no live generation: the key was deleted then
            yield ObjectVersion(key, "", "", _time(items[0]["timeDeleted"]), 0, deleted=True)
        for item in items:
            generation = str(item["generation"])
            yield ObjectVersion(key, generation, generation, _time(item["timeCreated"]),
                                int(item.get("size") or 0))

