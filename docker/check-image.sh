#!/usr/bin/env bash
# Checks docker/Dockerfile and docker/compose.yml without a Docker engine:
#  - the base image is Debian 12, pinned by point-release tag or digest;
#  - every `apt-get install` name is a real package of Debian 12 (apt-cache madison), and each
#    stage's list installs together (apt-get --simulate);
#  - the build stage installs every package of the build group in scripts/deps.sh, and what the
#    build stage copies is enough to configure the project (cmake, PERFGATE_TESTS=OFF);
#  - every shared library that perfgate and the sample backend name (readelf: NEEDED) is shipped by
#    a package the runtime stage installs, and every other one `ldd` loads by those packages'
#    dependencies (dpkg -S, apt-cache depends); the runtime stage has no -dev package;
#  - the image runs as a non-root user, exposes 8080 and 9901, has a HEALTHCHECK on the admin health
#    endpoint, its config at /etc/perfgate/perfgate.toml, fetches nothing but Debian packages;
#  - the bundled config passes `perfgate --check-config` (with the compose service names resolved);
#  - compose.yml is valid for docker-compose (`config -q`, when docker-compose is installed) and
#    builds targets the Dockerfile has.
# What it cannot do here: build or run the image. Exit 0 all good, 1 on a failure, 77 to skip.
# Usage: docker/check-image.sh BUILD_DIR      (BUILD_DIR has perfgate and bench/perfgate-sample-backend)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:?usage: check-image.sh BUILD_DIR}
# shellcheck source=docker/lib.sh
. "$here/lib.sh"
dockerfile="$here/Dockerfile"
binaries=("$build/perfgate" "$build/bench/perfgate-sample-backend")

for tool in apt-cache apt-get dpkg ldd cmake; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found (this check needs a Debian system)"; exit 77; }
done
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  echo "SKIP: no apt package lists; run 'apt-get update' once to check package names against Debian 12"
  exit 77
fi
for bin in "${binaries[@]}"; do [ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }; done

# The Dockerfile as "STAGE<TAB>INSTRUCTION<TAB>ARGUMENTS", one logical line each.
parsed=$(sed -e 's/^[[:space:]]*#.*$//' "$dockerfile" | sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' |
  awk 'BEGIN { stage = "(none)" }
       NF == 0 { next }
       { instr = toupper($1); $1 = ""; sub(/^ /, "");
         if (instr == "FROM") { stage = (NF >= 3 && toupper($(NF-1)) == "AS") ? $NF : "(unnamed)" }
         print stage "\t" instr "\t" $0 }')
stage_lines() { awk -F'\t' -v s="$1" -v i="$2" '$1 == s && $2 == i { print $3 }' <<<"$parsed"; }
stages=$(awk -F'\t' '$2 == "FROM" { print $1 }' <<<"$parsed")
final=$(tail -n1 <<<"$stages")
# Packages named by `apt-get install` in a stage's RUN lines.
stage_packages() {
  stage_lines "$1" RUN | grep -o 'apt-get install[^&;|]*' | sed 's/^apt-get install//' | tr ' ' '\n' |
    grep -v '^-' | grep -v '^$' | sort -u
}

# Base image.
default_image=$(sed -n 's/^ARG DEBIAN_IMAGE=//p' "$dockerfile")
while read -r from; do
  image=${from%% *}
  case "$image" in
    '${DEBIAN_IMAGE}') image=$default_image ;;
  esac
  if grep -qx "$image" <<<"$stages"; then continue; fi
  if [[ "$image" =~ ^debian:12\.[0-9]+-slim$ || "$image" =~ ^debian:12[^@]*@sha256:[0-9a-f]{64}$ ]]; then
    ok "base image $image (Debian 12, pinned)"
  else
    fail "base image '$image' is not debian:12.N-slim or pinned by digest"
  fi
done < <(awk -F'\t' '$2 == "FROM" { split($3, w, " "); print w[1] }' <<<"$parsed" | sort -u)

# Package names against Debian 12: one apt-cache call for all (each call reads every list).
debian_release=$(cut -d. -f1 /etc/debian_version 2>/dev/null)
[ "$debian_release" = 12 ] || note "this machine is not Debian 12 (/etc/debian_version: $(cat /etc/debian_version 2>/dev/null)); names are checked against its archives"
all_pkgs=$(for stage in $stages; do stage_packages "$stage"; done | sort -u)
# shellcheck disable=SC2086
madison=$(apt-cache madison $all_pkgs 2>/dev/null)
for stage in $stages; do
  pkgs=$(stage_packages "$stage")
  [ -n "$pkgs" ] || continue
  for p in $pkgs; do
    version=$(awk -F' *[|] *' -v p="$p" '{ sub(/^ +/, "", $1) } $1 == p && $3 ~ /debian.* bookworm(-updates|-security)?\// { print $2; exit }' <<<"$madison")
    if [ -n "$version" ]; then
      ok "[$stage] $p is a Debian 12 package ($version)"
    else
      fail "[$stage] '$p' is not a package in Debian 12 (bookworm) archives"
    fi
  done
  # shellcheck disable=SC2086
  if sim=$(apt-get --simulate install --no-install-recommends $pkgs 2>&1); then
    ok "[$stage] apt-get --simulate install of its $(wc -w <<<"$pkgs") packages resolves"
  else
    fail "[$stage] apt-get --simulate install fails: $(tail -n3 <<<"$sim")"
  fi
done

# Build stage against scripts/deps.sh.
build_stage=$(awk -F'\t' '$2 == "RUN" && $3 ~ /cmake --build/ { print $1; exit }' <<<"$parsed")
eval "$(sed -n '/^build_pkgs=(/,/)/p' "$root/scripts/deps.sh")"
build_installed=$(stage_packages "$build_stage")
for p in "${build_pkgs[@]}"; do
  grep -qx "$p" <<<"$build_installed" || fail "[$build_stage] does not install '$p' (scripts/deps.sh build group)"
done
ok "[$build_stage] installs every package of the build group of scripts/deps.sh (${#build_pkgs[@]})"

# What the build stage copies must be enough to configure the project as that stage does.
copy_dir=$(mktemp -d)
trap 'rm -rf "$copy_dir"' EXIT
while read -r args; do
  read -r -a words <<<"$args"
  for ((i = 0; i < ${#words[@]} - 1; i++)); do cp -r "$root/${words[$i]}" "$copy_dir/"; done
done < <(stage_lines "$build_stage" COPY | grep -v -- '--from')
if out=$(cmake -S "$copy_dir" -B "$copy_dir/build" -DCMAKE_BUILD_TYPE=Release -DPERFGATE_TESTS=OFF 2>&1); then
  ok "[$build_stage] the copied sources configure with cmake -DPERFGATE_TESTS=OFF"
else
  fail "[$build_stage] the copied sources do not configure: $(tail -n5 <<<"$out")"
fi

# Runtime libraries: each library a binary names (DT_NEEDED) is shipped by a package the runtime
# stage installs; each one ldd loads besides comes with those packages' dependencies.
runtime_stage=$(awk -F'\t' '$2 == "RUN" && $3 ~ /useradd/ { print $1; exit }' <<<"$parsed")
runtime_installed=$(stage_packages "$runtime_stage")
build_like=$(grep -E -- '-dev$|^build-essential$|^cmake$|^g\+\+|^gcc' <<<"$runtime_installed")
[ -z "$build_like" ] && ok "[$runtime_stage] installs no build packages" || fail "[$runtime_stage] installs build packages: $(tr '\n' ' ' <<<"$build_like")"
# check_libraries PACKAGES: "FAIL: ..." per library no package of PACKAGES (or their dependencies)
# ships, "ok: ..." per binary.
check_libraries() {
  local installed=$1 closure bin name libs needed direct indirect soname path owner candidate
  # shellcheck disable=SC2086
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances $installed 2>/dev/null | grep -v '^[ <]' | sort -u)
  for bin in "${binaries[@]}"; do
    name=$(basename "$bin")
    libs=$(ldd "$bin") || { echo "FAIL: ldd $bin failed"; continue; }
    if grep -q 'not found' <<<"$libs"; then echo "FAIL: ldd $bin: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"; fi
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    direct=0 indirect=0
    while read -r soname path; do
      owner=""
      for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
        owner=$(dpkg -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$owner" ] && break
      done
      if [ -z "$owner" ]; then
        echo "FAIL: $name: no Debian package ships $path"
      elif grep -qxF "$soname" <<<"$needed"; then
        if grep -qxF "$owner" <<<"$installed"; then
          direct=$((direct + 1))
        else
          echo "FAIL: $name needs $soname from package '$owner', which [$runtime_stage] does not install"
        fi
      elif grep -qxF "$owner" <<<"$closure"; then
        indirect=$((indirect + 1))
      else
        echo "FAIL: $name loads $path from '$owner', which no [$runtime_stage] package depends on"
      fi
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$libs" | sort -u)
    echo "ok:   $name: $direct libraries it names and $indirect they load come from [$runtime_stage] packages and their dependencies"
  done
}
report=$(check_libraries "$runtime_installed")
echo "$report"
failures=$((failures + $(grep -c '^FAIL' <<<"$report")))
# The same check without one package the binary names must fail, or it proves nothing.
report=$(check_libraries "$(grep -vx libtomlplusplus3 <<<"$runtime_installed")")
if grep -q "^FAIL: perfgate needs libtomlplusplus.so.3 from package 'libtomlplusplus3'" <<<"$report"; then
  ok "the library check notices a missing package (tried without libtomlplusplus3)"
else
  fail "the library check did not notice libtomlplusplus3 missing"
fi

# The image itself.
user=$(stage_lines "$final" USER | tail -n1)
if [ -n "$user" ] && [[ ! "$user" =~ ^(root|0)(:|$) ]]; then ok "[$final] runs as user $user"; else fail "[$final] runs as root"; fi
exposed=" $(stage_lines "$final" EXPOSE | tr '\n' ' ') "
for port in 8080 9901; do
  [[ "$exposed" == *" $port "* ]] && ok "[$final] exposes $port" || fail "[$final] does not expose $port"
done
grep -q '/api/monitoring/health' <<<"$(stage_lines "$final" HEALTHCHECK)" &&
  ok "[$final] HEALTHCHECK on /api/monitoring/health" || fail "[$final] has no HEALTHCHECK on /api/monitoring/health"
config_src=$(stage_lines "$final" COPY | awk '$NF == "/etc/perfgate/perfgate.toml" { print $1 }')
if [ -n "$config_src" ] && grep -q -- '--config", "/etc/perfgate/perfgate.toml"' <<<"$(stage_lines "$final" CMD)"; then
  ok "[$final] runs from /etc/perfgate/perfgate.toml (from $config_src)"
else
  fail "[$final] does not copy a config to /etc/perfgate/perfgate.toml and run from it"
fi
if grep -qE '^access_log = "/dev/stdout"' "$root/$config_src"; then ok "$config_src: access log to stdout"; else fail "$config_src: access_log is not /dev/stdout"; fi
fetches=$(awk -F'\t' '($2 == "RUN" && $3 ~ /(^|[;&|] *)(curl|wget|git|pip3?|npm|npx) |:\/\//) || ($2 == "ADD" && $3 ~ /:\/\//) { print $1 ": " $2 " " $3 }' <<<"$parsed")
[ -z "$fetches" ] && ok "no step fetches anything but Debian packages" || fail "network fetch outside apt: $fetches"

# Compose.
compose="$here/compose.yml"
services=$(sed -n 's/^  \([a-z][a-z0-9_-]*\):$/\1/p' "$compose")
while read -r target; do
  grep -qx "$target" <<<"$stages" && ok "compose builds target '$target'" || fail "compose builds target '$target', which the Dockerfile lacks"
done < <(sed -n 's/^ *target: *//p' "$compose")
while read -r source; do
  [ -e "$here/$source" ] || fail "compose mounts $source, which does not exist"
done < <(sed -n 's#^ *- \./\([^:]*\):/etc/perfgate/perfgate.toml.*#\1#p' "$compose")
mounted=$(sed -n 's#^ *- \./\([^:]*\):/etc/perfgate/perfgate.toml.*#\1#p' "$compose" | head -n1)
# shellcheck disable=SC2086
check_config_with_hosts "$build/perfgate" "$here/${mounted:-perfgate.toml}" $services
version=$(sed -n 's/^project(perfgate VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
while read -r image; do
  if [[ "$image" == perfgate* ]]; then
    [[ "$image" == *":$version" ]] && ok "compose image $image carries the project version" || fail "compose image $image is not tagged $version"
  else  # monitoring images from their vendors: pinned to a version or a digest, never "latest"
    [[ "$image" =~ :v?[0-9]+\.[0-9]+(\.[0-9]+)?$ || "$image" == *@sha256:* ]] && ok "compose image $image is pinned" ||
      fail "compose image $image is not pinned to a version"
  fi
done < <(sed -n 's/^ *image: *//p' "$compose")
if command -v docker-compose >/dev/null; then
  if out=$(docker-compose -f "$compose" config -q 2>&1); then ok "docker-compose config -q: compose.yml is valid"; else fail "docker-compose config: $out"; fi
else
  note "docker-compose not installed: compose.yml not validated against the compose schema"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
