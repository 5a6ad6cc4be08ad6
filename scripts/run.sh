#!/usr/bin/env bash
# Builds perfgate and runs it. With no --upstream/--config it also starts the bundled sample
# backend on 127.0.0.1:8000 and puts perfgate in front of it.
#   scripts/run.sh                               # sample backend + perfgate on :8080, admin :9901
#   scripts/run.sh --upstream http://10.0.0.5:8000
#   scripts/run.sh --config conf/perfgate.toml
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target perfgate perfgate-sample-backend

args=("$@")
backend_pid=""
gateway_pid=""
cleanup() {
  [ -n "$gateway_pid" ] && kill -TERM "$gateway_pid" 2>/dev/null && wait "$gateway_pid" 2>/dev/null
  [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [[ " ${args[*]-} " != *" --upstream "* && " ${args[*]-} " != *" --config "* ]]; then
  build-release/bench/perfgate-sample-backend --listen 127.0.0.1:8000 --latency 20-150 &
  backend_pid=$!
  args+=(--upstream http://127.0.0.1:8000)
  echo "run.sh: sample backend on http://127.0.0.1:8000 (20-150 ms per /api/ call)" >&2
fi
echo "run.sh: try  curl -i http://127.0.0.1:8080/api/items  and  curl http://127.0.0.1:9901/api/monitoring/health" >&2
build-release/perfgate "${args[@]}" &
gateway_pid=$!
wait "$gateway_pid"
