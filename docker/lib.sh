# Helpers shared by docker/check-image.sh and docker/k8s/check.sh (sourced, not run).

failures=0
ok()   { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
note() { echo "note: $*"; }

# check_config_with_hosts PERFGATE FILE NAME...: runs `perfgate --check-config FILE` with each
# NAME resolving to 127.0.0.1, as service names resolve inside compose or Kubernetes. It uses a
# private mount namespace with its own /etc/hosts (unshare); where that is not allowed, it checks
# a copy of FILE with the names replaced by 127.0.0.1 and says so.
check_config_with_hosts() {
  local perfgate=$1 file=$2
  shift 2
  local tmp
  tmp=$(mktemp -d)
  { cat /etc/hosts; for name in "$@"; do echo "127.0.0.1 $name"; done; } > "$tmp/hosts"
  local out rc=0
  # shellcheck disable=SC2016
  if unshare -m true 2>/dev/null || unshare -rm true 2>/dev/null; then
    local flags=-m
    unshare -m true 2>/dev/null || flags=-rm
    out=$(unshare "$flags" sh -c 'mount --bind "$1" /etc/hosts && exec "$2" --check-config "$3"' \
          sh "$tmp/hosts" "$perfgate" "$file" 2>&1) || rc=$?
  else
    note "unshare not permitted here: checking $file with $* replaced by 127.0.0.1"
    local copy="$tmp/$(basename "$file")"
    cp "$file" "$copy"
    for name in "$@"; do sed -i "s#://$name:#://127.0.0.1:#g" "$copy"; done
    out=$("$perfgate" --check-config "$copy" 2>&1) || rc=$?
  fi
  rm -rf "$tmp"
  if [ "$rc" -eq 0 ]; then ok "perfgate --check-config $file ($out)"; else fail "perfgate --check-config $file: $out"; fi
}
