#!/usr/bin/env bash
# Builds the Debian package from a build tree (what `make package` does), installs it with dpkg
# into a scratch root, and runs the installed sluiced on the installed config: what an operator
# gets from `apt install ./sluice_*.deb`. Then removes and purges it again.
#   deb_package.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
root=$work/root
fail() { echo "deb_package: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/out" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
debs=("$work"/out/sluice_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one sluice_*.deb in $work/out"
deb=${debs[0]}
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# The control fields an installer relies on.
[[ $(dpkg-deb -f "$deb" Package) == sluice ]] || fail "Package is not sluice"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in liburing libyaml-cpp libabsl libstdc++6; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/sluice/sluiced.yaml ||
  fail "/etc/sluice/sluiced.yaml is not a conffile"

# Install into the scratch root. Its dpkg database is empty, so the shared libraries it
# depends on are "missing" there (they are on this machine): --force-depends. The scratch root
# has no shell, so the maintainer scripts (CPack's ldconfig for libsluice.so.1) run chrootless.
dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless --log=/dev/null \
  -i "$deb" >"$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
[[ $(dpkg --root="$root" -s sluice | sed -n 's/^Status: //p') == "install ok installed" ]] ||
  fail "dpkg does not show sluice installed"
for f in usr/bin/sluiced usr/bin/sluice-sim usr/bin/sluice-load \
  usr/lib/systemd/system/sluiced.service etc/sluice/sluiced.yaml \
  usr/include/sluice/sluice.h usr/lib/cmake/sluice/sluiceConfig.cmake \
  usr/include/sluice/c.h usr/lib/libsluice.so.1 usr/lib/libsluice.a usr/lib/pkgconfig/sluice.pc \
  usr/share/doc/sluice/README.md; do
  [[ -e $root/$f ]] || fail "not installed: /$f"
done
if readelf -S --wide "$root/usr/bin/sluiced" | grep -Eq '\.(symtab|debug_info) '; then
  fail "sluiced is not stripped"
fi

# The installed binary validates the installed config; a broken copy is refused with its line.
"$root/usr/bin/sluiced" --check-config "$root/etc/sluice/sluiced.yaml" >"$work/check.out" ||
  { cat "$work/check.out"; fail "sluiced --check-config rejected the packaged config"; }
grep -q ': ok$' "$work/check.out" || fail "no ok line: $(cat "$work/check.out")"
sed 's/burst: 20/burst: twenty/' "$root/etc/sluice/sluiced.yaml" >"$work/bad.yaml"
if "$root/usr/bin/sluiced" --check-config "$work/bad.yaml" 2>"$work/bad.err"; then
  fail "a broken config was accepted"
fi
grep -Eq 'bad\.yaml:[0-9]+: ' "$work/bad.err" || fail "the error names no line: $(cat "$work/bad.err")"
# The unit runs exactly these paths.
grep -qx 'ExecStart=/usr/bin/sluiced --config /etc/sluice/sluiced.yaml' \
  "$root/usr/lib/systemd/system/sluiced.service" || fail "unit ExecStart does not match"

# The unit's sandbox, as systemd scores it (0 = locked down, 10 = none); 2.0 is the bar.
if command -v systemd-analyze >/dev/null; then
  (cd "$root" && systemd-analyze security --offline=true --threshold=20 --root="$root" \
    "$root/usr/lib/systemd/system/sluiced.service") >"$work/security.log" 2>&1 ||
    { cat "$work/security.log"; fail "the unit's exposure is above 2.0"; }
  tail -n 1 "$work/security.log"
fi

# Remove keeps the edited conffile (Debian semantics); purge deletes it.
echo "# local edit" >>"$root/etc/sluice/sluiced.yaml"
dpkg --root="$root" --force-not-root --force-script-chrootless --log=/dev/null -r sluice >/dev/null
[[ ! -e $root/usr/bin/sluiced ]] || fail "remove left /usr/bin/sluiced"
[[ -e $root/etc/sluice/sluiced.yaml ]] || fail "remove deleted the conffile"
dpkg --root="$root" --force-not-root --force-script-chrootless --log=/dev/null -P sluice \
  >/dev/null
[[ ! -e $root/etc/sluice/sluiced.yaml ]] || fail "purge left the conffile"
echo "deb_package: ok"
