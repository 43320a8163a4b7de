#!/usr/bin/env bash
# Builds the kops-gitsync container image with no registry (docs/container-image.md) and prints
# its name on stdout, e.g. localhost/kops-gitsync:0.1.0.
#
#   1. base: `mmdebstrap` makes a Debian bookworm minbase tarball with the packages in BASE_PACKAGES,
#      cached outside the repository under a key of suite, packages, apt sources and recipe:
#      $CACHE/image/base-<key>.tar. `podman import` turns it into localhost/kops-gitsync-base:<key>.
#   2. wheels: the checkout as a wheel (reproducible: SOURCE_DATE_EPOCH is the last commit's
#      time) and every dependency of kops-gitsync[$EXTRAS] as wheels, in a build context under
#      $CACHE/image/context (pip's own cache makes the second run quick).
#   3. `podman build -f deploy/image/Containerfile` with --network=none and --pull=never.
#
# Podman runs with the flags this sandbox needs and CI machines tolerate: --runtime runc,
# --cgroup-manager cgroupfs, explicit --ulimit nofile and nproc (the defaults exceed the hard
# limits here), and its own storage under $CACHE/podman/<driver> so the system's
# /var/lib/containers (and whatever driver it was set up with) is never touched.
# tests/image/podman.py builds the same flags; keep the two in step.
#
# Environment:
#   KOPS_GITSYNC_CACHE          cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/kops-gitsync)
#   KOPS_GITSYNC_PODMAN_DRIVER  storage driver: overlay, vfs, or auto (default: overlay when the
#                               kernel mounts it here, else vfs)
#   KOPS_GITSYNC_IMAGE_EXTRAS   extras installed in the image (default daemon,k8s,s3,gcs,age)
#   KOPS_GITSYNC_IMAGE_NAME     the tag (default localhost/kops-gitsync:<version>)
#   PYTHON                      a Python with pip, to build the wheels (default .venv/bin/python,
#                               else python3)
# On failure: one line on stderr naming the step and the log, exit status 1.
set -Eeuo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KOPS_GITSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kops-gitsync}
DRIVER=${KOPS_GITSYNC_PODMAN_DRIVER:-auto}
EXTRAS=${KOPS_GITSYNC_IMAGE_EXTRAS:-daemon,k8s,s3,gcs,age}
SUITE=bookworm
# python3-venv: the venv is made inside the image by Debian's own python3. tini: PID 1.
BASE_PACKAGES=python3,python3-venv,git,openssh-client,ca-certificates,tini
# Made here rather than in a Containerfile RUN, which would copy the whole root once more with
# vfs: uid 65532 gets a passwd entry (OpenSSH refuses a uid without one) and a home directory;
# /etc/gitconfig gives the daemon's commits an author when the review repository sets none
# (git refuses to guess one from the container's hostname; the repository's own user.name and
# user.email, or GIT_AUTHOR_* variables, win), and trusts mounted repositories whatever uid
# owns them (a volume filled by another uid; the container runs nothing else).
SETUP='echo "kops-gitsync:x:65532:65532:kops-gitsync:/home/kops-gitsync:/usr/sbin/nologin" >> "$1/etc/passwd"
echo "kops-gitsync:x:65532:" >> "$1/etc/group"
mkdir -m 0700 "$1/home/kops-gitsync"
chown 65532:65532 "$1/home/kops-gitsync"
printf "[user]\n\tname = kops-gitsync daemon\n\temail = kops-gitsync@localhost\n[safe]\n\tdirectory = *\n" > "$1/etc/gitconfig"'
# RECIPE changes when the base is made differently, so an older tarball is not reused.
RECIPE=3
WORK=$CACHE/image
LOG=$WORK/build.log
step="start"

mkdir -p "$WORK"
# Two builds at once (two checkouts, two CI jobs on one host) would share the log, the
# context directory and podman's storage: the second waits.
exec 9>"$WORK/build.lock"
flock 9
: > "$LOG"
fail() {
  last=$(grep -v '^[[:space:]]*$' "$LOG" 2>/dev/null | tail -1 | cut -c1-200)
  echo "build.sh: image build failed at step '$step': ${last:-no output} (log: $LOG)" >&2
  exit 1
}
trap fail ERR
run() { "$@" >>"$LOG" 2>&1; }
# A step: its name in the log with the seconds since the start, for the timings in the docs.
begin() { step=$1; echo "== $step (+$(($(date +%s) - ${started:-$(date +%s)})) s)" >>"$LOG"; }

# The storage driver: overlay when this kernel mounts it over the cache's filesystem (a layer
# costs nothing), else vfs (works as root anywhere, but copies the whole root for every layer
# and every container: a code change rebuilds in 83 s rather than 20 s, and each container
# starts seconds later). The choice is kept in
# $CACHE/podman/driver for the tests (tests/image/podman.py).
probe_overlay() {
  local dir
  dir=$(mktemp -d "$CACHE/podman/probe.XXXXXX")
  mkdir "$dir/lower1" "$dir/lower2" "$dir/upper" "$dir/work" "$dir/merged"
  if mount -t overlay overlay -o "lowerdir=$dir/lower1:$dir/lower2,upperdir=$dir/upper,workdir=$dir/work" \
    "$dir/merged" 2>>"$LOG"; then
    umount "$dir/merged"
    rm -rf "$dir"
    return 0
  fi
  rm -rf "$dir"
  return 1
}
mkdir -p "$CACHE/podman"
if [ "$DRIVER" = auto ]; then
  if probe_overlay; then DRIVER=overlay; else DRIVER=vfs; fi
fi
echo "$DRIVER" > "$CACHE/podman/driver"
# Run state on tmpfs (/run), one directory per storage root, so a reboot clears it and two
# caches never share it.
root=$CACHE/podman/$DRIVER
state=/run/kops-gitsync-podman/$(printf %s "$root" | sha256sum | cut -c1-12)
PODMAN=(podman --root "$root" --runroot "$state/run" --tmpdir "$state/tmp"
  --storage-driver "$DRIVER" --runtime runc --cgroup-manager cgroupfs)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

begin "prerequisites"
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "missing $tool (tests/debian-packages.txt)" >>"$LOG"; false; }
done
[ "$(id -u)" -eq 0 ] || { echo "run as root: rootless podman needs subuid ranges this script does not set up" >>"$LOG"; false; }
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$top/.venv/bin/python" ]; then PYTHON=$top/.venv/bin/python; else PYTHON=python3; fi
fi
run "$PYTHON" -m pip --version
# The wheels are installed by the image's Python (bookworm: 3.11); binary wheels for another
# version would be refused there, late and obscurely.
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = 3.11 ] || { echo "$PYTHON is Python $pyver; the image's Python is 3.11 (set PYTHON)" >>"$LOG"; false; }

started=$(date +%s)

begin "apt sources"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sources=/etc/apt/sources.list.d/debian.sources
elif [ -f /etc/apt/sources.list ]; then
  sources=$WORK/sources.list
  grep -E '^deb +[^ ]*debian' /etc/apt/sources.list > "$sources"
else
  echo "no Debian apt sources on this machine" >>"$LOG"
  false
fi
key=$( { echo "$RECIPE $SUITE $BASE_PACKAGES"; echo "$SETUP"; cat "$sources"; } | sha256sum | cut -c1-16)
tarball=$WORK/base-$key.tar
base=localhost/kops-gitsync-base:$key

begin "mmdebstrap $SUITE minbase"
if [ ! -s "$tarball" ]; then
  echo "build.sh: making the Debian base with mmdebstrap (about a minute; log: $LOG)" >&2
  rm -f "$tarball.tmp"
  # Documentation, man pages and translations are left out; nothing reads them in a container.
  run mmdebstrap --variant=minbase --include="$BASE_PACKAGES" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    --customize-hook="$SETUP" \
    --format=tar "$SUITE" "$tarball.tmp" "$sources"
  mv "$tarball.tmp" "$tarball"
fi

begin "podman import"
if ! "${PODMAN[@]}" image exists "$base" 2>>"$LOG"; then
  run "${PODMAN[@]}" import --change 'CMD ["/bin/sh"]' "$tarball" "$base"
fi

begin "wheels"
context=$WORK/context
rm -rf "$context"
mkdir -p "$context/wheels/deps" "$context/wheels/project"
epoch=$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 315532800)
SOURCE_DATE_EPOCH=$epoch run "$PYTHON" -m pip wheel -q --no-deps -w "$context/wheels/project" "$top"
project_wheel=$(ls "$context"/wheels/project/*.whl)
version=$(basename "$project_wheel" | cut -d- -f2)
# The dependency wheels are kept per (pyproject.toml, extras, Python): a cached build asks no
# index and reuses the image layer they are installed in.
deps=$WORK/deps-$( { cat "$top/pyproject.toml"; echo "$EXTRAS $pyver"; } | sha256sum | cut -c1-16)
if [ ! -d "$deps" ]; then
  rm -rf "$WORK"/deps-*  # older sets, and a half-made one
  run "$PYTHON" -m pip wheel -q -w "$deps.tmp" "$project_wheel[$EXTRAS]"
  rm -f "$deps.tmp"/kops_gitsync-*.whl
  run mv "$deps.tmp" "$deps"
fi
cp -p "$deps"/*.whl "$context/wheels/deps/"
image=${KOPS_GITSYNC_IMAGE_NAME:-localhost/kops-gitsync:$version}

# Nothing changed since the last build (same Containerfile, base, wheels; image still there):
# skip podman build, which even fully cached copies whole roots with vfs (90 s here).
begin "podman build"
build_key=$( { echo "$image"; cat "$top/deploy/image/Containerfile"; echo "$base";
  sha256sum "$context"/wheels/*/*.whl | cut -d' ' -f1; } | sha256sum | cut -c1-32)
stamp=$root.built
if [ "$(cat "$stamp" 2>/dev/null)" = "$build_key $("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ]; then
  echo "build.sh: $image unchanged, in $(($(date +%s) - started)) s (log: $LOG)" >&2
  echo "$image"
  exit 0
fi
rm -f "$stamp"
run "${PODMAN[@]}" build --pull=never --network=none "${ULIMITS[@]}" --layers \
  --build-arg "BASE=$base" -f "$top/deploy/image/Containerfile" -t "$image" "$context"
run "${PODMAN[@]}" run --rm --network=none "${ULIMITS[@]}" "$image" --help

# Every code change leaves the previous image's layers behind; a cache that CI keeps would
# grow without end. Old bases go at once, untagged images after a week (the layer of the
# current dependencies is kept while it is younger, so a code change still reuses it).
echo "$build_key $("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")" > "$stamp"

begin "prune"
"${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>>"$LOG" \
  | { grep '^localhost/kops-gitsync-base:' || true; } | { grep -v -x -F "$base" || true; } \
  | while read -r old; do run "${PODMAN[@]}" rmi "$old" || true; done
run "${PODMAN[@]}" image prune -f --filter until=168h || true

echo "build.sh: $image built in $(($(date +%s) - started)) s (log: $LOG)" >&2
echo "$image"
