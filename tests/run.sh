#!/usr/bin/env bash
# Sets up everything the test suite needs (Python packages in .venv, Debian packages listed in
# tests/debian-packages.txt when missing) and runs lint, type checks and the whole suite.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k pull`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ -f tests/debian-packages.txt ]; then
  missing=()
  while read -r pkg; do
    [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done < tests/debian-packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[all,test]'

.venv/bin/ruff check kops_gitsync tests benchmarks tools
.venv/bin/mypy
exec .venv/bin/pytest "$@"
