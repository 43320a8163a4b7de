"""Scheme -> backend, imported only when a store of that scheme is opened.

A plain dict, as in pre-commit's language table and fsspec's registry: adding a backend is
one line here plus one module. Modules are imported lazily so that ``import kops_gitsync`` and
the pre-commit hooks never pay for (or require) a cloud SDK. A missing SDK becomes a
``MissingDependency`` that names the pip extra to install.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from kops_gitsync.errors import FatalError, MissingDependency
from kops_gitsync.vfs.base import Store


@dataclass(frozen=True)
class Backend:
    target: str  # "module:Class"; the class has ``from_url(url, env) -> Store``
    extra: str | None  # the pip extra that brings its SDK, None for built-ins


BACKENDS: dict[str, Backend] = {
    "file": Backend("kops_gitsync.vfs.file:FileStore", None),
    "memfs": Backend("kops_gitsync.vfs.memfs:MemoryStore", None),
    "s3": Backend("kops_gitsync.vfs.s3:S3Store", "s3"),
    "do": Backend("kops_gitsync.vfs.s3:S3Store", "s3"),
    "scw": Backend("kops_gitsync.vfs.s3:S3Store", "s3"),
    "linode": Backend("kops_gitsync.vfs.s3:S3Store", "s3"),
    "hos": Backend("kops_gitsync.vfs.s3:S3Store", "s3"),
    "gs": Backend("kops_gitsync.vfs.gcs:GCSStore", "gcs"),
    "swift": Backend("kops_gitsync.vfs.swift:SwiftStore", "swift"),
    "oss": Backend("kops_gitsync.vfs.oss:OSSStore", "oss"),
    "k8s": Backend("kops_gitsync.vfs.k8s:KubernetesStore", "k8s"),
}


def normalize_url(url: str) -> str:
    """A bare ``k8s://`` (also ``k8s:/`` and ``k8s:``) as ``k8s://``.

    kops trims one trailing ``/`` from every state URL, so the documented ``--state k8s://``
    (the kops API of the current kube context) reaches us as ``k8s:/``; kops then parses
    it with ``url.Parse``, whose scheme is still ``k8s``. Without this, ``k8s:/`` has no
    ``://`` and was taken for a local directory. Any known scheme gets the same treatment,
    so ``s3:/`` says "names no bucket" instead of looking for a folder called ``s3:``.
    """
    if "://" in url:
        return url
    scheme, colon, rest = url.partition(":")
    if colon and scheme in BACKENDS and scheme != "file" and rest.strip("/") == "":
        return f"{scheme}://"
    return url


def scheme_of(url: str) -> str:
    """kops' rule: no ``://`` means a local path (after :func:`normalize_url`)."""
    url = normalize_url(url)
    return url.split("://", 1)[0] if "://" in url else "file"


def open_store(url: str, env: Mapping[str, str] | None = None) -> Store:
    """Build the backend for ``url`` with settings from ``env`` (default: the process env)."""
    url = normalize_url(url)
    scheme = scheme_of(url)
    backend = BACKENDS.get(scheme)
    if backend is None:
        known = ", ".join(f"{s}://" for s in sorted(BACKENDS))
        raise FatalError(f"unknown state store scheme {scheme!r} in {url!r} (known: {known})")
    module_name, class_name = backend.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("kops_gitsync"):
            raise FatalError(f"{scheme}:// stores are not implemented yet") from exc
        hint = f"pip install 'kops-gitsync[{backend.extra}]'" if backend.extra else "reinstall"
        raise MissingDependency(
            f"{scheme}:// stores need the Python package {exc.name!r}: {hint}"
        ) from exc
    cls = getattr(module, class_name)
    store: Store = cls.from_url(url, dict(os.environ if env is None else env))
    return store
