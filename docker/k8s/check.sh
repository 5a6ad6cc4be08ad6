#!/usr/bin/env bash
# Validates the Kubernetes manifests in docker/k8s/ without a cluster (see validate.mjs), then runs
# `perfgate --check-config` on the TOML of their ConfigMaps with the Service names resolving.
# npm dependencies (package.json, package-lock.json) are installed with `npm ci` into
# BUILD_DIR/k8s-check, again only when the lock file changes.
# Exit 0 all good, 1 on a failure, 77 (skip) when node or npm is not installed.
# Usage: docker/k8s/check.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh test installs nodejs and npm)"; exit 77; }
done
work="$build/k8s-check"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/validate.mjs" "$work/"
if ! cmp -s "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json" 2>/dev/null; then
  if ! (cd "$work" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "FAIL: npm ci could not install the validator's packages (see above)"
    exit 1
  fi
  cp "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json"
fi
rm -rf "$work/out" && mkdir -p "$work/out"
version=$(sed -n 's/^project(perfgate VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
node "$work/validate.mjs" "$here" "$work/out" "$version" || failures=$((failures + 1))
mapfile -t hosts < "$work/out/hosts.txt"
for toml in "$work"/out/*.toml; do
  [ -e "$toml" ] || { fail "no ConfigMap TOML to check"; break; }
  check_config_with_hosts "$build/perfgate" "$toml" "${hosts[@]}"
done
echo "$failures failed"
[ "$failures" -eq 0 ]
