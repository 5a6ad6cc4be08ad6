#!/usr/bin/env bash
# Installs what the tests need, builds everything with warnings as errors, runs the suite.
#   scripts/test.sh                 # build/ with the default (RelWithDebInfo) build
#   PERFGATE_SANITIZE=ON scripts/test.sh   # ASan + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
sanitize="${PERFGATE_SANITIZE:-OFF}"
dir=build
[ "$sanitize" = ON ] && dir=build-asan
cmake -S . -B "$dir" -DPERFGATE_WERROR=ON -DPERFGATE_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure --timeout 300 -j"$(nproc)"
