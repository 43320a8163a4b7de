"""``kops-no-secrets``: no kops secret material in any staged file.

Path rules (``pki/private/``, ``secrets/``) already keep secrets out of what pull writes, but
a person can still copy a keyset into the repository by hand, or paste a manifest with a
cloud token. So this looks at the *content* of every file, wherever it is, with
``secretscan``, the same rules pull applies before bytes become a blob. Files under a store
that deliberately mirrors secrets (``secrets: include``) are left alone.

Which files: exactly the ones named (pre-commit names the staged files, in batches, and
``pre-commit run --files X`` names X), else, for the plain git hooks that name none, every
staged path. A named file is read from the index when it is staged (that is what the commit
will hold) and from the work tree when it is not. Unlike the whole-cluster hooks this one
has nothing to learn from files it was not given, so it never reports on them.
"""

from __future__ import annotations

from collections.abc import Iterator

from kops_gitsync.backup.age import is_age
from kops_gitsync.hooks.base import ENCRYPTED_DIR, ENCRYPTED_SUFFIX, HookContext, changed_paths
from kops_gitsync.secretscan import findings

_BATCH = 500  # files read at a time: a whole-repository scan holds one batch, not the repo


def _contents(ctx: HookContext, paths: list[str]) -> Iterator[tuple[str, bytes]]:
    for start in range(0, len(paths), _BATCH):
        batch = paths[start : start + _BATCH]
        blobs = ctx.reader.index_blobs(batch, keep=False)
        for path in batch:
            if path in blobs:
                yield path, blobs[path]
            elif ctx.files and (ctx.root / path).is_file():
                yield path, (ctx.root / path).read_bytes()


def run(ctx: HookContext) -> int:
    paths = sorted(set(ctx.files)) if ctx.files else changed_paths(ctx)
    allowed = {
        obj.path
        for obj in ctx.layout.objects(paths)
        if obj.store is not None and obj.store.secrets == "include"
    }
    failed = False
    for path, data in _contents(ctx, [p for p in paths if p not in allowed]):
        copy = path.startswith(ENCRYPTED_DIR + "/") and path.endswith(ENCRYPTED_SUFFIX)
        if copy and not is_age(data):
            ctx.say(f"{path}: not age-encrypted (no age-encryption.org/v1 header): an encrypted "
                    "secret copy must be age ciphertext, never the plain object")
            failed = True
            continue
        for finding in findings(data):
            ctx.say(f"{path}:{finding.line}: {finding.rule}: {finding.name}")
            failed = True
    if failed:
        ctx.say(
            "Secret material must not enter git: unstage it (git rm --cached <file>). kops "
            "keeps it in the state store, which kops-gitsync never overwrites with git content."
        )
    return 1 if failed else 0
