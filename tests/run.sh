#!/usr/bin/env bash
# Sets up everything the test suite needs (Python packages in .venv, Debian packages listed in
# tests/debian-packages.txt when missing) and runs lint, type checks and the whole suite.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k pull`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ -f tests/debian-packages.txt ]; then
  missing=()
  while read -r line; do
    [ -z "$line" ] || [ "${line#\#}" != "$line" ] && continue
    # "a | b": any one of them will do (as in a Debian Depends line); the first is installed.
    IFS='|' read -ra alternatives <<< "${line// /}"
    found=""
    for pkg in "${alternatives[@]}"; do
      dpkg -s "$pkg" >/dev/null 2>&1 && found=yes && break
    done
    [ -n "$found" ] || missing+=("${alternatives[0]}")
  done < tests/debian-packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# The real kube-apiserver of the k8s tests (tests/servers/kube_apiserver.py): built from
# Debian's kubernetes source package once per package version (a few minutes) and cached
# outside the repository; a cached run takes under a second. Exported, the tests require it
# rather than skip. A failed build stops here with one line naming the step and its log.
KOPS_GITSYNC_KUBE_APISERVER=$(bash tests/servers/kube_apiserver_build.sh)
export KOPS_GITSYNC_KUBE_APISERVER

# chromium (tests/debian-packages.txt) renders the daemon's status page in a headless browser;
# here it is installed, so the browser test must run rather than skip.
export KOPS_GITSYNC_REQUIRE_CHROMIUM=1

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[all,test]'

# The container image of tests/image (deploy/image/build.sh, docs/container-image.md): a Debian
# base made by mmdebstrap and cached outside the repository, this checkout's wheels, podman
# build. About 3.5 min cold, under 30 s cached. Exported, the image tests require it rather
# than skip. A failed build stops here with one line naming the step and its log.
# Rootful podman needs root: as another user the image tests skip, saying why in one line.
if [ "$(id -u)" -eq 0 ]; then
  KOPS_GITSYNC_IMAGE=$(bash deploy/image/build.sh)
  export KOPS_GITSYNC_IMAGE
else
  echo "tests/run.sh: not root, so no container image (rootful podman); tests/image will skip" >&2
fi

.venv/bin/ruff check kops_gitsync tests benchmarks tools
.venv/bin/mypy
exec .venv/bin/pytest "$@"
