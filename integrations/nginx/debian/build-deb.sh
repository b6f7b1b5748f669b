#!/usr/bin/env bash
# Packages a built ngx_http_sluice_module.so as libnginx-mod-http-sluice, laid out like
# Debian's own module packages: the .so in /usr/lib/nginx/modules, a load_module snippet in
# /usr/share/nginx/modules-available, enabled through /etc/nginx/modules-enabled by postinst.
# It depends on the exact nginx ABI it was built against (nginx-abi-1.22.1-7 on Debian 12,
# read from nginx-dev), so apt refuses it next to any other nginx build.
#   build-deb.sh MODULE_SO VERSION OUT_DIR
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: build-deb.sh MODULE_SO VERSION OUT_DIR" >&2; exit 2; }
so=$1
version=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
nginx_src=${NGINX_DEV_SRC:-/usr/share/nginx/src}
abi=$(sed -n 's/^nginx:abi=//p' "$nginx_src/debian/libnginx-mod.abisubstvars")
[[ -n $abi ]] || { echo "build-deb.sh: no nginx:abi in nginx-dev" >&2; exit 1; }
arch=$(dpkg --print-architecture)
pkg=libnginx-mod-http-sluice

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/lib/nginx/modules" \
  "$root/usr/share/nginx/modules-available" "$root/usr/share/doc/$pkg"
install -m 0644 "$so" "$root/usr/lib/nginx/modules/ngx_http_sluice_module.so"
strip --strip-unneeded "$root/usr/lib/nginx/modules/ngx_http_sluice_module.so"
install -m 0644 "$here/mod-http-sluice.conf" "$root/usr/share/nginx/modules-available/"
cat >"$root/usr/share/doc/$pkg/README" <<DOC
ngx_http_sluice_module: limit_req's directives over sluice's lock-free shared table.
  sluice_req_zone \$binary_remote_addr zone=per_ip:10m rate=10r/s;
  sluice_req zone=per_ip burst=20 nodelay;
Enabled by /etc/nginx/modules-enabled/50-mod-http-sluice.conf. See README.md of sluice
("Inside nginx").
DOC
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done

# Shared-library dependencies as dpkg-shlibdeps reads them from the .so (libc, libstdc++,
# abseil), plus the nginx ABI.
mkdir -p "$stage/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O "root/usr/lib/nginx/modules/ngx_http_sluice_module.so" \
  2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || { echo "build-deb.sh: dpkg-shlibdeps found nothing" >&2; exit 1; }

cat >"$root/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: sluice developers <security@sluice.invalid>
Installed-Size: $(du -ks "$root/usr" | cut -f1)
Depends: $abi, $shlibs
Recommends: nginx
Section: httpd
Priority: optional
Description: lock-free rate limiting for nginx (sluice_req, a limit_req drop-in)
 ngx_http_sluice_module takes limit_req's directive shapes (sluice_req_zone, sluice_req with
 burst, nodelay and delay) over sluice's GCRA table in the zone's shared memory: one CAS per
 decision and no lock across workers, 16 bytes per key (64k keys per MiB), keys of any
 length, a full zone that evicts instead of rejecting, 429 with an exact Retry-After and the
 IETF RateLimit fields, state kept across reloads, and Prometheus counters.
CONTROL
(cd "$root" && find usr -type f -exec md5sum {} + | sort -k2) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/${pkg}_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
