#!/usr/bin/env bash
# libsluice.so.1 exports exactly the functions sluice/c.h declares (SLUICE_API), each under the
# SLUICE_1.0 version, and nothing else: no engine, abseil or C++ symbol leaks out.
#   c_exports.sh LIBSLUICE_SO HEADER
set -euo pipefail
lib=$1
header=$2
fail() { echo "c_exports: $*" >&2; exit 1; }

declared=$(tr '\n' ' ' <"$header" | grep -oE 'SLUICE_API [^(;#]*[ *]sluice_[a-z0-9_]+\(' |
  sed -E 's/.*[ *](sluice_[a-z0-9_]+)\($/\1/' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWw]$/ {print $3}' | sort -u)
all=$(nm -D --defined-only "$lib" | awk '{print $3}')
[[ -n $declared ]] || fail "found no SLUICE_API declarations in $header"
while read -r sym; do
  [[ $sym == SLUICE_1.0 || $sym == sluice_*@@SLUICE_1.0 ]] || fail "unexpected export: $sym"
done <<<"$all"
want=$(sed 's/$/@@SLUICE_1.0/' <<<"$declared")
if [[ $want != "$exported" ]]; then
  diff <(echo "$want") <(echo "$exported") >&2 || true
  fail "exports differ from the header's declarations (< header, > library)"
fi
echo "c_exports: $(wc -l <<<"$declared") functions, all versioned SLUICE_1.0, nothing else"
