#!/usr/bin/env bash
# The admin dashboard in a real browser: dashboard_check.mjs drives headless Chromium (Debian's
# chromium package) with playwright-core against the real perfgate and the sample backend.
# playwright-core (package.json, package-lock.json) is installed with `npm ci` into
# BUILD_DIR/dashboard-check, again only when the lock file changes; the screenshot is saved there.
# playwright-core stays at 1.61: later releases need Node.js 20, and Debian 12 ships 18.
# Exit 0 all good, 1 on a failure, 77 (skip) when chromium, node or npm is not installed.
# Usage: tests/dashboard/check.sh BUILD_DIR PERFGATE SAMPLE_BACKEND
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: check.sh BUILD_DIR PERFGATE SAMPLE_BACKEND}" && pwd)
perfgate=${2:?usage: check.sh BUILD_DIR PERFGATE SAMPLE_BACKEND}
backend=${3:?usage: check.sh BUILD_DIR PERFGATE SAMPLE_BACKEND}

# shellcheck source=scripts/npm_workspace.sh
. "$here/../../scripts/npm_workspace.sh"

browser=$(command -v chromium || command -v chromium-browser) ||
  { echo "SKIP: chromium is not installed (scripts/deps.sh test installs Debian's chromium)"; exit 77; }
work="$build/dashboard-check"
npm_workspace "$work" playwright-core "$here/package.json" "$here/package-lock.json" "$here/dashboard_check.mjs"
echo "chromium: $("$browser" --version 2>/dev/null | head -1)"
exec node "$work/dashboard_check.mjs" "$perfgate" "$backend" "$browser" "$work"
