"""What a CLI process imports before it needs it (issue 12: fixed cost of each run).

A fresh process per check, as the CLI starts; the pattern semantics are checked too, so
deferring an import changes no decision."""

from __future__ import annotations

import subprocess
import sys

from kops_gitsync.config.repo_config import StoreConfig
from kops_gitsync.sync.policy import Policy


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.split())


def test_a_store_without_patterns_does_not_import_pathspec() -> None:
    loaded = loaded_after("from kops_gitsync.config.repo_config import StoreConfig\n"
                          "from kops_gitsync.sync.policy import Policy\n"
                          "assert Policy(StoreConfig()).selected('c/config')")
    assert "pathspec" not in loaded
    assert "pathspec" in loaded_after(
        "from kops_gitsync.config.repo_config import StoreConfig\n"
        "from kops_gitsync.sync.policy import Policy\n"
        "Policy(StoreConfig(exclude=('*/secrets/*',)))")


def test_patterns_decide_as_before() -> None:
    assert Policy(StoreConfig()).selected("any/key")
    excluded = Policy(StoreConfig(exclude=("c1/instancegroup/*",)))
    assert not excluded.selected("c1/instancegroup/nodes")
    assert excluded.selected("c2/instancegroup/nodes")
    included = Policy(StoreConfig(include=("c1/**",), exclude=("c1/secrets/*",)))
    assert included.selected("c1/config")
    assert not included.selected("c1/secrets/admin")
    assert not included.selected("c2/config")
