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

# shellcheck source=scripts/npm_workspace.sh
. "$root/scripts/npm_workspace.sh"

work="$build/k8s-check"
npm_workspace "$work" "the validator's packages" "$here/package.json" "$here/package-lock.json" "$here/validate.mjs"
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
