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
  curl
)
# promtool (in Debian's prometheus package) lints /metrics in the e2e tests; CI asks for it.
if [[ "${SLUICE_WITH_PROMTOOL:-0}" == 1 ]]; then
  packages+=(prometheus)
fi
if [[ "${SLUICE_WITH_PEERS:-0}" == 1 ]]; then
  packages+=(wrk nginx haproxy)
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
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
