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
from kops_gitsync.sync.syncstate import SyncState, state_path
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

    @property
    def adopted_path(self) -> Path:
        """Names an observed commit found in a branch, not made by this clone: the next pull
        reads every object once instead of trusting the versions it records."""
        return self.repo.common_dir / "kops-gitsync" / f"adopted-{self.config.name}"

    def close(self) -> None:
        self.store.close()


def bound_url(repo: GitRepo, store_name: str) -> str | None:
    """The URL a store was pulled from: ``url`` of its sync state on the observed ref."""
    tip = repo.resolve(OBSERVED_PREFIX + store_name)
    data = repo.read_file(tip, state_path(store_name)) if tip else None
    if data is None:
        return None
    where = f"{OBSERVED_PREFIX}{store_name}:{state_path(store_name)}"
    return SyncState.parse_cached(data, where).url


def resolve_url(
    config: StoreConfig,
    state_flag: str | None,
    env: Mapping[str, str],
    bound: str | None = None,
) -> str:
    """--state, else the config's ``state:``, else the URL the store was pulled from
    (``bound``), else kops' own resolution (KOPS_STATE_STORE, ~/.kops.yaml, ...).

    A pulled store stays bound to its URL: a user who pulled with ``--state`` once must not
    have to repeat it, and an unrelated KOPS_STATE_STORE in the shell must never redirect a
    push to another store, so a KOPS_STATE_STORE that names a different store is refused.
    """
    if state_flag:
        return trim_trailing_slash(state_flag)
    if config.state:
        return trim_trailing_slash(config.state)
    if bound:
        exported = trim_trailing_slash(env.get("KOPS_STATE_STORE") or "") or None
        if exported is not None and exported != bound:
            raise FatalError(
                f"store {config.name!r} was pulled from {bound}, but KOPS_STATE_STORE names "
                f"{exported}; pass --state {bound} (or unset KOPS_STATE_STORE), or give the "
                "other store its own name in .kops-gitsync.yaml"
            )
        return bound
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
    contexts: list[SyncContext] = []
    try:
        for config in configs:
            url = resolve_url(config, state_flag, env, bound_url(repo, config.name))
            contexts.append(SyncContext(repo, config, open_store(url, env), url))
    except BaseException:
        # A later store failing (bad URL, missing SDK) must not leak the clients, pools
        # and threads of the stores already opened.
        for ctx in contexts:
            ctx.close()
        raise
    return contexts
