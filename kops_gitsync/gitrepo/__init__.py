"""Everything that talks to git: ``repo`` for the sync engine (GitPython), ``staged`` for
the hooks (plain subprocess, for start-up speed). Import the submodule you need."""
