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

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh test installs nodejs and npm)"; exit 77; }
done
browser=$(command -v chromium || command -v chromium-browser) ||
  { echo "SKIP: chromium is not installed (scripts/deps.sh test installs Debian's chromium)"; exit 77; }
work="$build/dashboard-check"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/dashboard_check.mjs" "$work/"
if ! cmp -s "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json" 2>/dev/null; then
  if ! (cd "$work" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "FAIL: npm ci could not install playwright-core (see above)"
    exit 1
  fi
  cp "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json"
fi
echo "chromium: $("$browser" --version 2>/dev/null | head -1)"
exec node "$work/dashboard_check.mjs" "$perfgate" "$backend" "$browser" "$work"
