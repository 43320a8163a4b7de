"""Which repository paths the hooks treat as kops objects."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kops_gitsync.hooks.base import Layout
from tests.conftest import FIXTURE_STORES

CONFIG = (FIXTURE_STORES / "ha" / "ha.example.com" / "config").read_bytes()


def test_store_paths_and_cluster_folders_without_config(tmp_path: Path) -> None:
    files = {
        "state/ha.example.com/config": CONFIG,
        "copies/prod/ha.example.com/config": CONFIG,
        "copies/prod/ha.example.com/igconfig/node/nodes/nodeupconfig.yaml": b"x",
        "app/config": b"[server]\nport = 80\n",
        "app/manifests/deploy.yaml": b"kind: Deployment\n",
    }
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    layout = Layout.load(tmp_path)

    state = layout.locate("state/ha.example.com/instancegroup/nodes")
    assert state is not None and state.store is not None and state.store.name == "default"
    assert state.key == "ha.example.com/instancegroup/nodes" and state.is_cluster_spec

    copy = layout.locate("copies/prod/ha.example.com/igconfig/node/nodes/nodeupconfig.yaml")
    assert copy is not None and copy.store is None
    assert copy.cluster_dir == "copies/prod/ha.example.com"
    assert copy.key == "ha.example.com/igconfig/node/nodes/nodeupconfig.yaml"

    assert layout.locate("app/manifests/deploy.yaml") is None  # app/config is no Cluster
    assert layout.clusters_touched(
        ["copies/prod/ha.example.com/config", "app/config", "state/x.example.com/addons/a.yaml"]
    ) == ["copies/prod/ha.example.com"]
