#!/usr/bin/env bash
# Sets up kops-gitsync in .venv and runs the main job on the bundled example store:
# pull into a new git repo, review an edit, push it back, show status. No cloud account needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ ! -x .venv/bin/kops-gitsync ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e .
fi
export PATH="$top/.venv/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/kops-gitsync-demo.XXXXXX")
cp -r examples/store "$work/store"
# The example comes from kops' tests, which keep it in memfs://; point it at where it now
# lives, as `kops create cluster --state file://...` would have written it.
grep -rl 'memfs://clusters.example.com' "$work/store" \
  | xargs sed -i "s|memfs://clusters.example.com|file://$work/store|g"
export KOPS_STATE_STORE="file://$work/store"
git init -q -b main "$work/review"
cd "$work/review"
git config user.name "Demo Operator"
git config user.email "operator@example.com"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step kops-gitsync pull
step git log --stat -1 --format='%B' refs/kops-gitsync/observed/default
step ls state/minimal-aws.example.com
sed -i 's/maxSize: 2$/maxSize: 3/' state/minimal-aws.example.com/instancegroup/nodes
step git commit -qam "nodes: maxSize 3"
step kops-gitsync push
step kops-gitsync push --yes
step kops-gitsync pull
step kops-gitsync status
step grep -n maxSize "$work/store/minimal-aws.example.com/instancegroup/nodes"
printf '\nThe review repo is %s; the store is %s.\n' "$work/review" "$work/store"
printf 'Try: cd %s && kops --state file://$PWD/state get clusters\n' "$work/review"
