#!/usr/bin/env bash
# Installs the Debian packages perfgate needs to build, test or benchmark, when missing.
# Usage: scripts/deps.sh [build|test|fuzz|bench]...   (default: build)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libevent-dev libcurl4-openssl-dev libxxhash-dev
            libspdlog-dev libfmt-dev zlib1g-dev libdeflate-dev libtomlplusplus-dev nlohmann-json3-dev
            libbenchmark-dev libhiredis-dev libsystemd-dev libbrotli-dev libzstd-dev liburing-dev)
# docker-compose, systemd: the checks of docker/compose.yml and conf/systemd/perfgate.service;
# varnish: varnishtest drives the request-smuggling matrix in tests/vtc/; prometheus: promtool
# checks the /metrics exposition; chromium: the admin dashboard's browser check (tests/dashboard/);
# redis-server backs the shared L2 cache tests; wrk, gnuplot-nox and python3: the bench_smoke test
# runs bench/run --quick (the harness only, no peers).
test_pkgs=(libgtest-dev curl openssl docker-compose systemd varnish prometheus chromium redis-server
           wrk gnuplot-nox python3
           # tests/ops/: logrotate runs conf/logrotate/perfgate for real, groff-base formats
           # docs/perfgate.1 with warnings on, python3-yaml reads the alert rules in promtool_check.sh.
           logrotate groff-base python3-yaml)
fuzz_pkgs=(clang-14 libclang-rt-14-dev)
# gnuplot-nox and python3: bench/run's plot and report.
bench_pkgs=(wrk nginx-light haproxy varnish trafficserver gnuplot-nox python3 python3-locust)

want=()
[ $# -eq 0 ] && set -- build
for group in "$@"; do
  case "$group" in
    build) want+=("${build_pkgs[@]}") ;;
    test)  want+=("${build_pkgs[@]}" "${test_pkgs[@]}")
           # node and npm validate docker/k8s/ and drive tests/dashboard/; a Node.js from
           # elsewhere (e.g. one that bundles npm) is kept as it is, since Debian's npm package
           # conflicts with it.
           command -v npm >/dev/null || want+=(nodejs npm) ;;
    fuzz)  want+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (build|test|fuzz|bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
