"""Everything one sync operation needs, resolved once: repo, store config, store, URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kops_gitsync.config.kops_resolution import resolve_state_store, trim_trailing_slash
from kops_gitsync.config.repo_config import StoreConfig, load_repo_config
from kops_gitsync.errors import FatalError
from kops_gitsync.gitrepo.repo import GitRepo
from kops_gitsync.sync.policy import Policy
from kops_gitsync.sync.syncstate import state_path
from kops_gitsync.vfs.base import Store
from kops_gitsync.vfs.registry import open_store

OBSERVED_PREFIX = "refs/kops-gitsync/observed/"


@dataclass
class SyncContext:
    repo: GitRepo
    config: StoreConfig
    store: Store
    url: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def observed_ref(self) -> str:
        return OBSERVED_PREFIX + self.config.name

    @property
    def mirror_path(self) -> str:
        return self.config.path.strip("/")

    @property
    def state_file(self) -> str:
        return state_path(self.config.name)

    @property
    def policy(self) -> Policy:
        return Policy(self.config)

    @property
    def journal_path(self) -> Path:
        # In the common git dir: every worktree shares the observed refs, so it must see the
        # journal of a push interrupted in another one.
        return self.repo.common_dir / "kops-gitsync" / f"journal-{self.config.name}.json"

    def close(self) -> None:
        self.store.close()


def resolve_url(config: StoreConfig, state_flag: str | None, env: Mapping[str, str]) -> str:
    if state_flag:
        return trim_trailing_slash(state_flag)
    if config.state:
        return trim_trailing_slash(config.state)
    url, _source = resolve_state_store(None, env, Path(env.get("HOME", str(Path.home()))))
    return url


def open_contexts(
    repo_dir: Path | None,
    store_name: str | None,
    state_flag: str | None,
    env: Mapping[str, str],
) -> list[SyncContext]:
    """Contexts for the selected store (or all configured stores)."""
    repo = GitRepo.open(repo_dir)
    repo_config = load_repo_config(repo.root)
    configs = repo_config.select(store_name)
    if state_flag and len(configs) > 1:
        raise FatalError("--state names one store; choose which with --store NAME")
    contexts = []
    for config in configs:
        url = resolve_url(config, state_flag, env)
        contexts.append(SyncContext(repo, config, open_store(url, env), url))
    return contexts
