#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan) in build-fuzz/ and runs each for a bounded
# time against its seed corpus; exits non-zero when any target crashes or breaks a check.
#   scripts/fuzz.sh                       # every target, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh request_parser chunked_decoder
# New interesting inputs go to build-fuzz/corpus/NAME/ (kept between runs), crashing inputs to
# build-fuzz/crashes/. A crash is fixed with its input copied to tests/fuzz/regressions/NAME/,
# which the normal suite replays (FuzzCorpusTest).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh fuzz
seconds="${FUZZ_SECONDS:-30}"
all=(request_parser chunked_decoder config cache_control cache_key accept_encoding l2_record gateway)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

dir=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFGATE_FUZZ=ON \
  -DPERFGATE_TESTS=OFF -DPERFGATE_WERROR=ON >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$dir" -j"$(nproc)" "${build_targets[@]}"

mkdir -p "$dir/crashes"
failed=()
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  mkdir -p "$corpus"
  echo "fuzz.sh: $t for ${seconds}s" >&2
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a leak or a blow-up.
  if ! "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" "$corpus" "tests/fuzz/corpus/$t" \
      2>"$dir/fuzz-$t.log"; then
    tail -n 60 "$dir/fuzz-$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$dir/fuzz-$t.log" | tr '\n' ' ' >&2
    echo >&2
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $dir/crashes/, logs in $dir/fuzz-NAME.log)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash" >&2
