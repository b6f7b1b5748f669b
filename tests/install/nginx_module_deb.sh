#!/usr/bin/env bash
# libnginx-mod-http-sluice as `make package` builds it: its control fields, its files, and
# what its maintainer scripts do in a scratch root (dpkg --root, scripts run chrootless with
# DPKG_ROOT): the modules-enabled symlink Debian's module packages manage, that the installed
# snippet loads the installed .so into Debian's nginx (nginx -t), then remove and purge.
#   nginx_module_deb.sh MODULE_SO VERSION WORK_DIR
set -euo pipefail
so=$1
version=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "nginx_module_deb: $*" >&2; exit 1; }

rm -rf "$work"
root=$work/root
mkdir -p "$work/out" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info" \
  "$root/etc/nginx/modules-enabled"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"

deb=$(bash "$here/../../integrations/nginx/debian/build-deb.sh" "$so" "$version" "$work/out")
[[ -f $deb ]] || fail "no .deb built"
echo "package: $(basename "$deb")"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == libnginx-mod-http-sluice ]] || fail "Package: $(field Package)"
abi=$(sed -n 's/^nginx:abi=//p' /usr/share/nginx/src/debian/libnginx-mod.abisubstvars)
depends=$(field Depends)
[[ $depends == "$abi, "* ]] || fail "Depends does not start with $abi: $depends"
for lib in libc6 libstdc++6 libabsl; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
[[ $depends != *libsluice* ]] || fail "the engine should be linked in: $depends"
# The packaged nginx provides exactly that ABI.
apt-cache show nginx 2>/dev/null | grep -q "^Provides:.*$abi" ||
  dpkg-query -W -f='${Provides}\n' nginx | grep -q "$abi" || fail "nginx does not provide $abi"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/lib/nginx/modules/ngx_http_sluice_module.so \
  ./usr/share/nginx/modules-available/mod-http-sluice.conf; do
  grep -qx "$f" <<<"$contents" || fail "not in the package: $f"
done

inst() { dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless \
  --log=/dev/null "$@" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg $*"; }; }
link=$root/etc/nginx/modules-enabled/50-mod-http-sluice.conf
inst -i "$deb"
[[ -L $link && $(readlink "$link") == /usr/share/nginx/modules-available/mod-http-sluice.conf ]] ||
  fail "postinst did not enable the module: $(ls -l "$root/etc/nginx/modules-enabled")"
grep -qx 'load_module modules/ngx_http_sluice_module.so;' \
  "$root/usr/share/nginx/modules-available/mod-http-sluice.conf" || fail "snippet"

# The installed snippet and .so in Debian's nginx: a prefix whose modules/ is the scratch
# root's, and a config that includes modules-enabled as Debian's nginx.conf does.
prefix=$work/prefix
mkdir -p "$prefix/conf"
ln -s "$root/usr/lib/nginx/modules" "$prefix/modules"
sed 's|^load_module modules/|load_module '"$prefix"'/modules/|' \
  "$root/usr/share/nginx/modules-available/mod-http-sluice.conf" >"$prefix/conf/sluice.conf"
cat >"$prefix/conf/nginx.conf" <<CONF
include $prefix/conf/sluice.conf;
events {}
http {
  sluice_req_zone \$binary_remote_addr zone=per_ip:1m rate=10r/s;
  server { listen 127.0.0.1:1; location / { sluice_req zone=per_ip burst=20 nodelay; } }
}
CONF
/usr/sbin/nginx -t -q -p "$prefix/" -c "$prefix/conf/nginx.conf" \
  -g "pid $prefix/nginx.pid; error_log $prefix/error.log;" >"$work/nginx-t.log" 2>&1 ||
  { cat "$work/nginx-t.log"; fail "nginx -t refused the installed module"; }

# Remove: disabled (kept as .removed); reinstall: enabled again; purge: gone.
inst -r libnginx-mod-http-sluice
[[ ! -e $link && -L $link.removed ]] || fail "remove did not disable the module"
[[ ! -e $root/usr/lib/nginx/modules/ngx_http_sluice_module.so ]] || fail "remove left the .so"
inst -i "$deb"
[[ -L $link && ! -e $link.removed ]] || fail "reinstall did not enable the module again"
inst -P libnginx-mod-http-sluice
[[ ! -e $link && ! -e $link.removed ]] || fail "purge left the symlink"
echo "nginx_module_deb: ok"
