#!/usr/bin/env bash
# Installs the Debian 12 packages sluice builds with, only those missing. Idempotent: a second
# run with everything present touches nothing and makes no network call.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  liburing-dev libabsl-dev libboost-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format libclang-rt-14-dev
  valgrind
  gnuplot-nox
  zlib1g-dev  # sluice-sim --log reads gzip-compressed access logs
  curl
  nginx
  # `make package` and tests/install/deb_package.sh: CPackDeb runs `file` on every installed
  # file, dpkg-shlibdeps (dpkg-dev) computes the .deb's Depends, strip and readelf (binutils)
  # strip the binaries and check they are stripped. build-essential pulls the last two in
  # today; named here so the package step never depends on that.
  file
  dpkg-dev
  binutils
  # systemd-analyze scores the packaged unit's sandbox in tests/install/deb_package.sh (a full
  # Debian 12 has it; a minimal root or container does not).
  systemd
  # nginx's build tree and headers: integrations/nginx builds ngx_http_sluice_module.so against
  # it (make nginx-module), and tests/integrations/nginx loads that into the packaged nginx.
  nginx-dev
  python3-cffi  # examples/python: the C ABI (libsluice.so.1) from Python, tested by ctest
  # An independent HTTP/1.1 parser on the upstream side of the proxy-mode tests
  # (tests/e2e/h11_oracle.py): what sluiced forwards must mean the same to it as to ours.
  python3-h11
)
# promtool (in Debian's prometheus package) lints /metrics in the e2e tests; CI asks for it.
if [[ "${SLUICE_WITH_PROMTOOL:-0}" == 1 ]]; then
  packages+=(prometheus)
fi
if [[ "${SLUICE_WITH_PEERS:-0}" == 1 ]]; then
  # The peers of bench/compare/run and bench/compare/proxy; linux-perf for the latter's
  # --profile (syscalls per request, the call-graph profile of sluiced).
  packages+=(wrk haproxy linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# nginx is here for the e2e test through nginx auth_request (tests/e2e/e2e_nginx_test.cc), which
# starts its own instance on loopback. Debian's postinst would start the packaged service on
# port 80: `invoke-rc.d nginx start` (the init script, where systemd is not running, as in a
# container) or `deb-systemd-invoke start nginx.service`. Both ask /usr/sbin/policy-rc.d
# first; while the packages install, one that answers 101 ("action forbidden") keeps the
# service down. An existing policy-rc.d (Docker images ship one) is left as it is.
policy_rc=/usr/sbin/policy-rc.d
own_policy_rc=0
remove_policy_rc() {
  if [[ $own_policy_rc == 1 ]]; then
    "${sudo_cmd[@]}" rm -f "$policy_rc"
  fi
}
trap remove_policy_rc EXIT
if [[ ! -e $policy_rc ]]; then
  own_policy_rc=1
  printf '#!/bin/sh\n# tools/install-deps.sh: no service starts while sluice installs packages\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy_rc" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy_rc"
fi

"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Under systemd the unit was also enabled for the next boot: nginx came for the tests, so leave
# it disabled (only when this run installed it).
if [[ " ${missing[*]} " == *" nginx "* && -d /run/systemd/system ]]; then
  "${sudo_cmd[@]}" systemctl disable --quiet nginx.service || true
fi
