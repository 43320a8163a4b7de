"""kops-gitsync: a kops state store under git.

Importing this package must stay cheap: the pre-commit hooks import it on every commit,
so no cloud SDK and no GitPython is imported here.
"""

__version__ = "0.1.0"
