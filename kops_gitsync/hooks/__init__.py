"""The pre-commit checks, one thin module per hook.

Each module exposes ``run(ctx: HookContext) -> int`` and leans on ``validate/``,
``sync/policy.py``, ``secretscan.py`` and ``gitrepo/staged.py``. None of them may import
the sync engine, GitPython or a cloud SDK: a hook runs on every commit and must start fast.
"""
