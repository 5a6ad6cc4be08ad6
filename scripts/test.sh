#!/usr/bin/env bash
# Installs what the tests need, builds with warnings as errors and runs, in order:
#   normal  the whole suite (build/, RelWithDebInfo), the soak (label "soak") and varnishtest included
#   asan    the same suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   fuzz    every libFuzzer target for FUZZ_SECONDS (default 30) each (scripts/fuzz.sh, build-fuzz/)
# Stops at the first stage that fails.
#   scripts/test.sh                        # all three (what CI runs)
#   scripts/test.sh normal                 # only the normal suite
#   PERFGATE_SANITIZE=ON scripts/test.sh   # only the sanitizer suite (same as: scripts/test.sh asan)
# PERFGATE_SOAK_SECONDS sets the soak's length (default 60; the asan stage runs it for 20 s).
set -euo pipefail
cd "$(dirname "$0")/.."

stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then
  if [ "${PERFGATE_SANITIZE:-OFF}" = ON ]; then stages=(asan); else stages=(normal asan fuzz); fi
fi

scripts/deps.sh test
jobs="$(nproc)"

suite() {  # suite DIR SANITIZE
  cmake -S . -B "$1" -DPERFGATE_WERROR=ON -DPERFGATE_SANITIZE="$2" >/dev/null
  cmake --build "$1" -j"$jobs"
  (cd "$1" && ctest --output-on-failure --timeout 300 -j"$jobs")
}

for stage in "${stages[@]}"; do
  start=$SECONDS
  echo "test.sh: stage $stage" >&2
  case "$stage" in
    normal) suite build OFF ;;
    asan) PERFGATE_SOAK_SECONDS="${PERFGATE_SOAK_SECONDS:-20}" suite build-asan ON ;;
    fuzz) scripts/fuzz.sh ;;
    *) echo "test.sh: unknown stage '$stage' (normal|asan|fuzz)" >&2; exit 2 ;;
  esac
  echo "test.sh: stage $stage passed in $((SECONDS - start)) s" >&2
done
