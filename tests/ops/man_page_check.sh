#!/usr/bin/env bash
# Holds docs/perfgate.1 to the binary: every flag that `PERFGATE --help` prints has one entry under
# OPTIONS (with a value when --help shows one), the page documents no flag and mentions no long
# option that --help lacks (--help itself, which the usage text does not list, aside), the version in
# .TH is `PERFGATE --version`'s, and the sections NAME ... SEE ALSO are there. Then formats the page
# with warnings on (`groff -man -Tutf8 -ww -z`, else `man --warnings -l`) and fails on any warning;
# that part is skipped, with a note, when neither groff nor man is installed.
# Exit 0 all good, 1 on a failure.
# Usage: tests/ops/man_page_check.sh PERFGATE_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: man_page_check.sh PERFGATE_BINARY}
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"
page="$root/docs/perfgate.1"
[ -f "$page" ] || { echo "FAIL: $page does not exist"; exit 1; }
help=$("$bin" --help 2>&1) || { echo "FAIL: $bin --help failed: $help"; exit 1; }

LONG='--[a-z][a-z0-9-]*'
# Flags of --help, each with its value placeholder lower-cased ("-" for none), from the lines that
# describe one flag ("  --config FILE   run from ..."); and every long option the text names.
help_entries=$(sed -n 's/^  \(--[a-z][a-z0-9-]*\)\( [A-Z][A-Z:]*\)\{0,1\}  .*/\1\2/p' <<<"$help" |
               awk '{ print $1, ($2 == "" ? "-" : tolower($2)) }' | sort -u)
help_flags=$( { grep -oE -- "$LONG" <<<"$help"; echo --help; } | sort -u)
[ -n "$help_entries" ] || fail "no flag descriptions found in $bin --help"

# The page as text: comments dropped, \- as -, font escapes and \% removed.
text=$(grep -v '^\.\\"' "$page" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\%//g')
# OPTIONS entries: the tag line after each .TP, as "FLAG VALUE" ("-" for none); an entry tagged
# "-h, --help" gives --help.
page_entries=$(awk '/^\.SH / { section = $0; next }
                    section == ".SH OPTIONS" && tag { print; tag = 0; next }
                    section == ".SH OPTIONS" && /^\.TP/ { tag = 1 }' <<<"$text" |
               sed -E 's/^\.[A-Z]+ //; s/"//g; s/,//g' |
               awk '{ flag = ""; value = "-"
                      for (i = 1; i <= NF; i++) if ($i ~ /^--/) { flag = $i; if (i < NF) value = tolower($(i + 1)); break }
                      if (flag != "") print flag, value }' | sort)
page_flags=$(cut -d' ' -f1 <<<"$page_entries" | sort -u)

while read -r flag value; do
  [ -n "$flag" ] || continue
  entry=$(awk -v f="$flag" '$1 == f' <<<"$page_entries")
  if [ -z "$entry" ]; then
    fail "$flag (from --help) has no entry under OPTIONS in docs/perfgate.1"
  elif [ "$(wc -l <<<"$entry")" -gt 1 ]; then
    fail "$flag has $(wc -l <<<"$entry") entries under OPTIONS"
  elif [ "$(cut -d' ' -f2 <<<"$entry")" != "$value" ]; then
    fail "$flag: --help shows value '$value', the man page '$(cut -d' ' -f2 <<<"$entry")'"
  else
    ok "$flag$([ "$value" = - ] || echo " $value") documented under OPTIONS"
  fi
done <<<"$help_entries"
grep -qx -- '--help' <<<"$page_flags" && ok "--help documented under OPTIONS" || fail "--help has no entry under OPTIONS"
while read -r flag; do
  [ -n "$flag" ] || continue
  grep -qx -- "$flag" <<<"$help_flags" || fail "docs/perfgate.1 documents $flag, which $bin --help does not know"
done <<<"$page_flags"
# Long options named anywhere on the page, except in commands of other programs quoted there.
while read -r flag; do
  [ -n "$flag" ] || continue
  grep -qx -- "$flag" <<<"$help_flags" || fail "docs/perfgate.1 mentions $flag, which $bin --help does not know"
done < <(grep -oE -- "(^|[^a-z0-9-])$LONG" <<<"$text" | grep -oE -- "$LONG" | sort -u)

for section in NAME SYNOPSIS DESCRIPTION OPTIONS SIGNALS FILES 'EXIT STATUS' 'SEE ALSO'; do
  grep -qE "^\\.SH \"?$section\"?\$" <<<"$text" || fail "no section $section"
done
ok "sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, SIGNALS, FILES, EXIT STATUS, SEE ALSO checked"
signals=$(awk '/^\.SH / { s = $0 } s == ".SH SIGNALS"' <<<"$text")
for sig in SIGTERM SIGINT SIGHUP SIGUSR1; do
  grep -q "$sig" <<<"$signals" || fail "SIGNALS does not cover $sig"
done
grep -q '/etc/perfgate/perfgate.toml' <<<"$(awk '/^\.SH / { s = $0 } s == ".SH FILES"' <<<"$text")" ||
  fail "FILES does not name /etc/perfgate/perfgate.toml"
version=$("$bin" --version 2>/dev/null)
if grep -qF "\"$version\"" <<<"$(grep '^\.TH ' "$page")"; then
  ok ".TH names \"$version\""
else
  fail ".TH does not name \"$version\" ($bin --version): $(grep '^\.TH ' "$page")"
fi

if command -v groff >/dev/null; then
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$out" ] && ok "groff -man -Tutf8 -ww -z: no warning" || fail "groff warnings: $out"
elif command -v man >/dev/null; then
  out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  [ -z "$out" ] && ok "man --warnings -l: no warning" || fail "man warnings: $out"
else
  note "neither groff nor man installed: the page's formatting is not checked"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
