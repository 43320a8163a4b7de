"""``kops-no-secrets``: no kops secret material in any staged file.

Path rules (``pki/private/``, ``secrets/``) already keep secrets out of what pull writes, but
a person can still copy a keyset into the repository by hand, or paste a manifest with a
cloud token. So this looks at the *content* of every staged file, wherever it is, with
``secretscan`` (which decodes the base64 kops hides private keys in). Files under a store
that deliberately mirrors secrets (``secrets: include``) are left alone.
"""

from __future__ import annotations

from kops_gitsync.gitrepo import staged
from kops_gitsync.hooks.base import HookContext, changed_paths
from kops_gitsync.secretscan import scan


def run(ctx: HookContext) -> int:
    paths = changed_paths(ctx)
    allowed = {
        obj.path
        for obj in ctx.layout.objects(paths)
        if obj.store is not None and obj.store.secrets == "include"
    }
    blobs = staged.index_blobs([p for p in paths if p not in allowed], ctx.root)
    failed = False
    for path, data in sorted(blobs.items()):
        for finding in scan(data):
            ctx.say(f"{path}:{finding.line}: {finding.rule}: {finding.message}")
            failed = True
    if failed:
        ctx.say(
            "Secret material must not enter git: unstage it (git rm --cached <file>). kops "
            "keeps it in the state store, which kops-gitsync never overwrites with git content."
        )
    return 1 if failed else 0
