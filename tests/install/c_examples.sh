#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds examples/c against it the way a C user
# does (`cc $(pkg-config --cflags --libs sluice)`, and statically from libsluice.a) and runs it,
# and runs examples/python through Debian's python3-cffi on the installed libsluice.so.1.
#   c_examples.sh BUILD_DIR SOURCE_DIR WORK_DIR PYTHON3
set -euo pipefail
build=$1
src=$2
work=$3
python=$4
fail() { echo "c_examples: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install failed"; }
pc=$(find "$work/prefix" -name sluice.pc -path '*/pkgconfig/*')
[[ -n $pc ]] || fail "no sluice.pc installed"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir sluice)
[[ -f $libdir/libsluice.so.1 && -f $libdir/libsluice.a ]] ||
  fail "libsluice.so.1 and libsluice.a are not in pkg-config's libdir $libdir"
[[ $(readelf -d "$libdir/libsluice.so.1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p') == libsluice.so.1 ]] ||
  fail "SONAME is not libsluice.so.1"
echo "pkg-config: sluice $(pkg-config --modversion sluice), $(pkg-config --cflags --libs sluice)"

# Shared: exactly the command README gives.
# shellcheck disable=SC2046
cc -std=c99 -pedantic -Wall -Wextra -Werror -o "$work/limit" "$src/examples/c/limit.c" \
  $(pkg-config --cflags --libs sluice) || fail "examples/c/limit.c does not build with pkg-config"
readelf -d "$work/limit" | grep -q 'NEEDED.*libsluice.so.1' || fail "limit does not need libsluice.so.1"
LD_LIBRARY_PATH=$libdir "$work/limit" >"$work/limit.out" || { cat "$work/limit.out"; fail "limit failed"; }
cat "$work/limit.out"

# Static: libsluice.a plus what `pkg-config --static` says it needs (abseil, libstdc++).
# shellcheck disable=SC2046
cc -std=c99 -o "$work/limit_static" "$src/examples/c/limit.c" $(pkg-config --cflags sluice) \
  "$libdir/libsluice.a" $(pkg-config --static --libs sluice | sed 's/-lsluice\b//') ||
  fail "examples/c/limit.c does not link statically"
if readelf -d "$work/limit_static" | grep -q 'NEEDED.*libsluice'; then
  fail "the static build still needs libsluice.so"
fi
"$work/limit_static" >/dev/null || fail "the statically linked example failed"
echo "static link: ok"

# Python through cffi (ABI mode), on the installed library.
SLUICE_LIBRARY=$libdir/libsluice.so.1 "$python" "$src/examples/python/sluice_cffi.py" ||
  fail "examples/python/sluice_cffi.py failed"
