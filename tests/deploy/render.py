"""Rendering ``deploy/`` with kubectl, as an operator would: an overlay of their own that sets
the namespace and the repository URL on top of the base or one of our overlays.

Which kubectl: ``$KOPS_GITSYNC_KUBECTL``, else ``kubectl`` on PATH. On a fresh Debian bookworm
machine that is the ``kubernetes-client`` package (1.20, whose built-in kustomize is 2.0.3),
installed by tests/run.sh from tests/debian-packages.txt; newer kubectl (kustomize 5) renders
the same objects. Without one, the tests skip with a line saying what to install, except under
tests/run.sh (which exports ``KOPS_GITSYNC_KUBE_APISERVER``), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.kube_apiserver import BINARY_VAR

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
TARGETS = ["base", "overlays/k8s-store", "overlays/servicemonitor", "overlays/cloud-files"]
KUBECTL_VAR = "KOPS_GITSYNC_KUBECTL"


def kubectl_binary() -> str:
    """The kubectl to use, or skip (fail under tests/run.sh) with a one-line reason."""
    found = os.environ.get(KUBECTL_VAR) or shutil.which("kubectl")
    if found:
        return found
    reason = ("no kubectl: apt-get install kubernetes-client (tests/debian-packages.txt; "
              f"or set {KUBECTL_VAR})")
    if os.environ.get(BINARY_VAR):
        pytest.fail(reason)
    pytest.skip(reason)


def run(kubectl: str, *args: str, stdin: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([kubectl, *args], input=stdin, capture_output=True, text=True,
                          timeout=180, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}: "
                             f"{done.stderr.strip()}")
    return done


def operator_overlay(where: Path, target: str, namespace: str, repo_url: str,
                     name_prefix: str = "") -> Path:
    """An overlay like the one docs/deploy.md tells operators to write. The path to ``deploy/``
    is relative: kubectl 1.20's kustomize refuses an absolute one."""
    where.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(DEPLOY / target, where)
    overlay: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "bases": [relative],
        "configMapGenerator": [{"name": "kops-gitsync-repo", "behavior": "merge",
                                "literals": [f"REPO_URL={repo_url}"]}],
    }
    if name_prefix:
        overlay["namePrefix"] = name_prefix
    (where / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return where


def render(kubectl: str, directory: Path) -> tuple[str, list[dict[str, Any]]]:
    """``kubectl kustomize`` output: the text and its objects."""
    text = run(kubectl, "kustomize", str(directory)).stdout
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    return text, objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]
