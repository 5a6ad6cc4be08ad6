# Sourced by the checks that run a Node.js script with npm packages pinned by a lock file
# (tests/dashboard/check.sh, docker/k8s/check.sh).
# npm_workspace WORK_DIR WHAT FILE...
#   Exits 77 (skip) when node or npm is not installed. Copies FILE... (package.json,
#   package-lock.json and the scripts) into WORK_DIR and installs the packages there with
#   `npm ci`, again only when the lock file changed; exits 1 when that fails (WHAT names them).
npm_workspace() {
  local work=$1 what=$2 tool
  shift 2
  for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh test installs nodejs and npm)"; exit 77; }
  done
  mkdir -p "$work"
  cp "$@" "$work/"
  if ! cmp -s "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json" 2>/dev/null; then
    if ! (cd "$work" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "FAIL: npm ci could not install $what (see above)"
      exit 1
    fi
    cp "$work/package-lock.json" "$work/node_modules/.perfgate-lock.json"
  fi
}
