#!/usr/bin/env bash
# Builds ngx_http_sluice_module.so against Debian's nginx-dev the way Debian builds its own
# libnginx-mod-* packages (dh_nginx): nginx's configure with the exact flags of the packaged
# binary (conf_flags), --with-compat, then `make modules`. The result loads into the nginx of
# the same version (1.22.1 on Debian 12) and no other.
#   build.sh OUT_DIR INCLUDE_DIR LIB...
# OUT_DIR gets ngx_http_sluice_module.so (and nginx's objs/ and logs); INCLUDE_DIR holds
# <sluice/c.h>; LIB... is the static link line of the engine (archives and -l flags).
# NGINX_DEV_SRC overrides the nginx-dev tree (default /usr/share/nginx/src).
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: build.sh OUT_DIR INCLUDE_DIR LIB..." >&2; exit 2; }
out=$(realpath -m "$1")
inc=$(realpath "$2")
shift 2
# The link line runs in the copied tree: archives by absolute path.
libs=()
for arg in "$@"; do
  if [[ $arg != -* && -e $arg ]]; then libs+=("$(realpath "$arg")"); else libs+=("$arg"); fi
done
set -- "${libs[@]}"
here=$(cd "$(dirname "$0")" && pwd)
nginx_src=${NGINX_DEV_SRC:-/usr/share/nginx/src}
[[ -x $nginx_src/configure && -f $nginx_src/conf_flags ]] ||
  { echo "build.sh: no nginx-dev tree at $nginx_src (apt install nginx-dev)" >&2; exit 1; }

# configure writes a Makefile into the tree it runs from: work on a copy, never on /usr. It
# runs again only when its inputs change (it takes a minute; `make modules` is incremental).
cflags="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS) -fPIC"
stamp="$nginx_src $inc $* $cflags $ldflags $(md5sum <"$here/config")"
mkdir -p "$out"
if [[ ! -f $out/objs/Makefile || $(cat "$out/configure.stamp" 2>/dev/null) != "$stamp" ]]; then
  rm -rf "$out/nginx-src" "$out/objs" "$out/configure.stamp"
  cp -a "$nginx_src" "$out/nginx-src"
  (
    cd "$out/nginx-src"
    # shellcheck disable=SC1091
    . ./conf_flags
    export SLUICE_NGX_INCS="$inc"
    export SLUICE_NGX_LIBS="$*"
    ./configure --with-cc-opt="$cflags" --with-ld-opt="$ldflags" "${NGX_CONF_FLAGS[@]}" \
      --add-dynamic-module="$here" --builddir="$out/objs" >"$out/configure.log" 2>&1
  ) || {
    tail -n 30 "$out/configure.log" >&2
    echo "build.sh: nginx's configure failed (full log: $out/configure.log)" >&2
    exit 1
  }
  printf '%s' "$stamp" >"$out/configure.stamp"
fi
cd "$out/nginx-src"
# nginx's Makefile relinks on its objects only: relink when an archive of the engine changed.
for lib in "$@"; do
  if [[ -f $lib && $lib -nt $out/objs/ngx_http_sluice_module.so ]]; then
    rm -f "$out/objs/ngx_http_sluice_module.so"
  fi
done
if ! make -f "$out/objs/Makefile" modules >"$out/make.log" 2>&1; then
  cat "$out/make.log" >&2
  exit 1
fi
cp "$out/objs/ngx_http_sluice_module.so" "$out/ngx_http_sluice_module.so.tmp"
mv "$out/ngx_http_sluice_module.so.tmp" "$out/ngx_http_sluice_module.so"
echo "build.sh: $out/ngx_http_sluice_module.so"
