#!/usr/bin/env bash
# Builds the kube-apiserver the real-server tests start (tests/servers/kube_apiserver.py), from
# Debian's `kubernetes` source package, and caches it outside the repository under the package
# version: $CACHE/kube-apiserver-<version>/kube-apiserver. Prints that path on stdout.
#
# Why from source: no package ships a kube-apiserver binary for this machine and kind/k3s need
# images from the internet, but Debian ships the whole 1.20 tree with its vendor/ directory.
# A cold build takes about 3 CPU-minutes; a cached run only reads the kept apt lists (0.3 s).
# Needs (tests/debian-packages.txt): golang-1.19-go, golang-github-modern-go-reflect2-dev
# (and etcd-server to run it). Never touches /etc/apt: a private apt configuration under $CACHE
# adds only a deb-src entry for the machine's own Debian archive.
#
# Environment: KOPS_GITSYNC_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/kops-gitsync).
# On failure: one line on stderr naming the step and the log, exit status 1.
set -Eeuo pipefail

CACHE=${KOPS_GITSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kops-gitsync}
GO=${GO:-/usr/lib/go-1.19/bin/go}
REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
APT=$CACHE/apt
LOG=$CACHE/kube-apiserver-build.log
step="start"

mkdir -p "$CACHE"
: > "$LOG"
fail() {
  last=$(grep -v '^[[:space:]]*$' "$LOG" 2>/dev/null | tail -1 | cut -c1-200)
  echo "kube_apiserver_build.sh: kube-apiserver build failed at step '$step': ${last:-no output} (log: $LOG)" >&2
  exit 1
}
trap fail ERR
run() { "$@" >>"$LOG" 2>&1; }

# Concurrent runs (two checkouts, two CI jobs on one host) build once.
exec 9>"$CACHE/kube-apiserver.lock"
flock 9

step="private apt sources"
mkdir -p "$APT/parts" "$APT/prefs" "$APT/lists/partial" "$APT/cache/archives/partial"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  # deb822: the machine's Debian entries, as source entries.
  sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > "$APT/parts/debian-src.sources"
elif [ -f /etc/apt/sources.list ]; then
  grep -E '^deb +[^ ]*debian' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' \
    > "$APT/parts/debian-src.list"
  [ -s "$APT/parts/debian-src.list" ] || false
else
  false
fi
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$APT/parts"
  -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache"
  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$APT/prefs"
  -o APT::Sandbox::User=root -o Debug::NoLocking=1)

source_version() {
  apt-cache "${apt_opts[@]}" showsrc kubernetes 2>>"$LOG" | sed -n 's/^Version: //p' \
    | sort -V | tail -1
}
# RECIPE changes when this script builds differently, so a binary from an older recipe is
# rebuilt rather than trusted.
RECIPE=2
cached() {
  out=$CACHE/kube-apiserver-$version/kube-apiserver
  [ -n "$version" ] && [ -x "$out" ] && [ "$(cat "$out.recipe" 2>/dev/null)" = "$RECIPE" ]
}

# A cached run reads the private lists it kept (no network); a cold one refreshes them first,
# so the version it downloads is one the archive still has.
step="source package version"
version=$(source_version || true)
if cached; then
  echo "$out"
  exit 0
fi
step="apt-get update (deb-src lists)"
run apt-get "${apt_opts[@]}" update
step="source package version"
version=$(source_version)
[ -n "$version" ] || { echo "no kubernetes source package in the machine's Debian archive" >>"$LOG"; false; }
if cached; then
  echo "$out"
  exit 0
fi

step="build prerequisites"
[ -x "$GO" ] || { echo "missing $GO (Debian package golang-1.19-go)" >>"$LOG"; false; }
[ -f "$REFLECT2/reflect2.go" ] || { echo "missing $REFLECT2 (golang-github-modern-go-reflect2-dev)" >>"$LOG"; false; }

work=$CACHE/kube-apiserver-build
rm -rf "$work"
mkdir -p "$work/src"
echo "kube_apiserver_build.sh: building kube-apiserver $version (cold build: about 3 CPU-minutes, 3-13 min on a busy machine; log: $LOG)" >&2
started=$(date +%s)

step="apt-get source kubernetes"
(cd "$work/src" && run apt-get "${apt_opts[@]}" source --download-only "kubernetes=$version")
orig=$(ls "$work"/src/kubernetes_*.orig.tar.gz | head -1)

step="unpack source"
tree=$work/gopath/src/k8s.io/kubernetes
mkdir -p "$tree"
run tar -xzf "$orig" -C "$tree" --strip-components=1
[ -d "$tree/cmd/kube-apiserver" ] || false

# The vendored reflect2 1.0.1 breaks map iteration on Go >= 1.18 (the server crashes at
# start); Debian's 1.0.2 is a drop-in replacement.
step="replace vendored reflect2"
rm -f "$tree"/vendor/github.com/modern-go/reflect2/*.go "$tree"/vendor/github.com/modern-go/reflect2/*.s
cp "$REFLECT2"/*.go "$tree/vendor/github.com/modern-go/reflect2/"
cp "$REFLECT2"/*.s "$tree/vendor/github.com/modern-go/reflect2/" 2>/dev/null || true

# GOPATH mode, as 1.20's own hack/ scripts build (module mode wants go.mod updates).
export GOPATH=$work/gopath GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS= \
  GOCACHE=$work/gocache GOTOOLCHAIN=local
cd "$tree"

# pkg/generated/openapi is generated, not shipped: the tree's own openapi-gen over every
# package tagged for it.
step="build openapi-gen"
run "$GO" build -p 2 -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
step="generate pkg/generated/openapi"
# -R: the staging repositories (apiextensions-apiserver, api, apimachinery, ...) are symlinks
# under vendor/k8s.io, and a model missing from them stops the server at start.
inputs=$(grep -Rl --include='*.go' '^// *+k8s:openapi-gen=' pkg cmd plugin vendor/k8s.io \
  | xargs -n1 dirname | sort -u \
  | grep -v -E '^vendor/k8s\.io/(code-generator|sample-apiserver)(/|$)' \
  | sed -e 's|^|k8s.io/kubernetes/|' | paste -sd, -)
[ -n "$inputs" ] || false
run "$work/openapi-gen" --logtostderr -i "$inputs" \
  -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
  -o "$GOPATH/src" -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
  -r "$work/api-violations.report"
grep -q 'apiextensions/v1.CustomResourceDefinition"' pkg/generated/openapi/zz_generated.openapi.go

step="go build cmd/kube-apiserver"
upstream=${version#*really}
upstream=${upstream%%-*}
major=${upstream%%.*}
minor=${upstream#*.}
minor=${minor%%.*}
ldflags=""
for p in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
  k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $p.gitVersion=v$upstream -X $p.gitMajor=$major -X $p.gitMinor=$minor"
done
run "$GO" build -p 2 -tags providerless -ldflags "-s -w $ldflags" \
  -o "$work/kube-apiserver" ./cmd/kube-apiserver
"$work/kube-apiserver" --version >>"$LOG" 2>&1

step="install into cache"
mkdir -p "$(dirname "$out")"
mv "$work/kube-apiserver" "$out.tmp"
mv "$out.tmp" "$out"
echo "$RECIPE" > "$out.recipe"
cd "$CACHE"
rm -rf "$work"
echo "kube_apiserver_build.sh: built in $(($(date +%s) - started)) s: $out" >&2
echo "$out"
