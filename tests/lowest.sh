#!/usr/bin/env bash
# The lowest-versions check: installs kops-gitsync the way a user does (a wheel, not editable)
# with every runtime dependency at the lowest version pyproject.toml allows
# (tests/constraints-lowest.txt), into a venv of its own, and runs the fast tests there:
# tests/unit and tests/core (file:// and memfs://), about a minute plus the install.
# Debian packages come from tests/run.sh (run it once first). Extra arguments go to pytest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
venv=${KOPS_GITSYNC_LOWEST_VENV:-build/venv-lowest}

python3 -m venv --clear "$venv"
"$venv/bin/pip" install -q --upgrade pip
# Test tools are not pinned: only what the package itself depends on is held at its floor.
"$venv/bin/pip" install -q -c tests/constraints-lowest.txt '.[all,test]'
"$venv/bin/pip" check
# The wheel carries the systemd units: install-units works from the installed package alone.
smoke=$(mktemp -d)
(cd "$smoke" && env -u PYTHONPATH "$top/$venv/bin/kops-gitsync" install-units --prefix "$smoke/root" >/dev/null)
test -s "$smoke/root/etc/systemd/system/kops-gitsync@.service"
rm -rf "$smoke"
PATH="$top/$venv/bin:$PATH" exec "$venv/bin/python" -m pytest -p no:cacheprovider \
  tests/unit tests/core "$@"
