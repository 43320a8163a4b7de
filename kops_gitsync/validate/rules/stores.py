"""Where the cluster keeps its files: every ``azureblob://`` store in one storage account.

kops (``validateAzureBlobAccountUniformity``) builds one Azure client for the account in
``configBase`` and refuses a Cluster whose ``keyStore``, ``secretStore`` or an etcd
``backupStore`` is an ``azureblob://`` URL of another account (or whose configBase is not
``azureblob://`` at all). The account is the URL's host: ``azureblob://<account>/<container>/<key>``.

A Cluster without ``configBase`` is not judged: kops fills it in from the state store
when the object is stored, so the account it will compare with is not in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from kops_gitsync.validate.issues import Issue, YamlPath
from kops_gitsync.validate.rules.base import ClusterView, as_dict, as_str, cluster_issue
from kops_gitsync.validate.rules.catalog import rule

AZURE_SCHEME = "azureblob://"

AZURE_BLOB_ACCOUNT = rule(
    "azureblob-account",
    "kops reaches every azureblob:// store through the storage account of configBase",
    "put keyStore, secretStore and etcd backupStore in configBase's storage account"
    " (azureblob://<account>/<container>/...)",
    "pkg/apis/kops/validation/validation.go: validateAzureBlobAccountUniformity")


def azure_account(url: str) -> tuple[str, str | None]:
    """The storage account of an ``azureblob://`` URL, or ``("", why)`` if it has none."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here, as Go's url.Parse refuses it
    except ValueError as exc:
        return "", f"does not parse ({exc})"
    if not parts.netloc:
        return "", "names no storage account"
    if not parts.path.lstrip("/").split("/", 1)[0]:
        return "", "names no container"
    return parts.netloc, None


def check_azure_blob_accounts(view: ClusterView) -> Iterator[Issue]:
    if view.cluster is None:
        return
    spec = view.spec
    base = as_str(spec.get("configBase"))
    if not base:
        return
    canonical = ""
    if base.startswith(AZURE_SCHEME):
        canonical, problem = azure_account(base)
        if problem:
            yield cluster_issue(AZURE_BLOB_ACCOUNT, ("spec", "configBase"),
                                f"configBase {base} {problem}; write"
                                " azureblob://<account>/<container>/<path>")
            return
    stores: list[tuple[YamlPath, str]] = [
        (("spec", "keyStore"), as_str(spec.get("keyStore"))),
        (("spec", "secretStore"), as_str(spec.get("secretStore"))),
    ]
    for index, etcd in view.etcd_clusters():
        backup = as_str(as_dict(etcd.get("backups")).get("backupStore"))
        stores.append((("spec", "etcdClusters", index, "backups", "backupStore"), backup))
    for path, url in stores:
        if not url.startswith(AZURE_SCHEME):
            continue
        account, problem = azure_account(url)
        if problem:
            message = f"{url} {problem}; write azureblob://<account>/<container>/<path>"
        elif not canonical:
            message = f"{url} is azureblob://, so configBase ({base}) must be azureblob:// too"
        elif account != canonical:
            message = (f"{url} uses storage account {account!r}, configBase uses"
                       f" {canonical!r}; use {canonical!r}")
        else:
            continue
        yield cluster_issue(AZURE_BLOB_ACCOUNT, path, message)


CHECKS = (check_azure_blob_accounts,)
