#!/usr/bin/env bash
# Runs a command in a clone of the committed HEAD inside a freshly unpacked, minimal Debian 12
# root, as a new user on a new machine would: the README's two commands must work there with
# nothing but what tools/install-deps.sh installs.
#
#   tools/fresh-root-test.sh                  make test in a fresh root
#   tools/fresh-root-test.sh -- CMD ARGS...   CMD (run by bash in the clone) instead
#   tools/fresh-root-test.sh --run-check      make run in a fresh root; curl must get an answer
#                                             from 127.0.0.1:8080, then sluiced is stopped
#   options: --ref REV (test REV instead of HEAD), --refresh (debootstrap the cached root anew)
#
# The root is `debootstrap --variant=minbase bookworm` plus git, make and ca-certificates,
# cached as a tarball in $SLUICE_FRESH_ROOT_CACHE (default /var/cache/sluice/fresh-root). Every
# run unpacks a new copy of it into a scratch dir there, so no run sees what an earlier one
# installed, and removes it afterwards. /proc, /sys and /dev (with /dev/pts and /dev/shm) are
# mounted into it and always unmounted again: on success, failure, Ctrl-C or SIGTERM, and a run
# first cleans up whatever an earlier killed run left. The command runs as root with `env -i`
# (PATH, HOME, LANG=C.UTF-8, TERM; CI and SLUICE_WITH_PROMTOOL passed through when set): no
# compiler cache or other setting of the calling shell reaches it. Its whole output goes to a
# log file whose path is printed; the tail is printed at the end, and the exit status is the
# command's. Failures of the script itself exit 2 with a "fresh-root:" message.
#
# Needs root (debootstrap, chroot, mount) and network access to the Debian mirror
# ($SLUICE_DEBIAN_MIRROR, default http://deb.debian.org/debian). Only one run at a time: a
# second one waits for the first's lock. Nothing here times out: the command may take as long
# as it takes (a cold `make test` installs the toolchain and builds everything).
set -euo pipefail
# The whole script is one brace group, which bash reads completely before it runs any of it:
# editing or checking out this file while a run is under way cannot change what that run does.
{

readonly suite=bookworm
readonly include=git,make,ca-certificates
readonly mirror=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly security_mirror=${SLUICE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
readonly cache=${SLUICE_FRESH_ROOT_CACHE:-/var/cache/sluice/fresh-root}
readonly tarball=$cache/$suite-minbase.tar.gz
readonly stamp="$suite minbase include=$include mirror=$mirror security=$security_mirror format=1"
# A cold make test installs ~1.5 GiB of packages and builds ~2 GiB; keep room for both plus the
# cached tarball being written.
readonly min_free_kib=$((10 * 1024 * 1024))
tail_lines=${SLUICE_FRESH_ROOT_TAIL:-60}

die() {
  echo "fresh-root: error: $*" >&2
  exit 2
}
note() { echo "fresh-root: $*"; }

mode=test
ref=HEAD
refresh=0
cmd=(make test)
while [[ $# -gt 0 ]]; do
  case $1 in
    --run-check) mode=run-check ;;
    --ref)
      [[ $# -ge 2 ]] || die "--ref needs a revision"
      ref=$2
      shift
      ;;
    --refresh) refresh=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
      exit 0
      ;;
    --)
      shift
      [[ $# -gt 0 ]] || die "-- needs a command"
      cmd=("$@")
      break
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot and mount need it)"
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || die "not inside a git checkout"
sha=$(git -C "$repo" rev-parse --verify "$ref^{commit}") || die "no commit '$ref' in $repo"
if [[ $ref == HEAD && -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  note "note: the work tree has uncommitted changes; they are not tested (committed HEAD only)"
fi

mkdir -p "$cache" "$cache/logs"
# One run at a time: the scratch roots and the tarball are shared state.
exec 9>"$cache/lock"
if ! flock -n 9; then
  note "another fresh-root run holds $cache/lock; waiting for it"
  flock 9
fi

# --- mounts and processes inside a root ---------------------------------------------------------

# Mount points at or below $1, deepest first (from /proc/self/mountinfo; octal escapes such as
# \040 are decoded so that paths with spaces still match).
mounts_under() {
  local root=$1
  awk '{print $5}' /proc/self/mountinfo | while read -r m; do
    m=$(printf '%b' "$m")
    if [[ $m == "$root" || $m == "$root"/* ]]; then echo "$m"; fi
  done | sort -r
}

# Ends every process whose root directory is $1 or below it (what the command started and left
# behind, e.g. a sluiced from `make run`): TERM, a grace period, then KILL.
kill_inside() {
  local root=$1 pids sig p r
  for sig in TERM KILL; do
    pids=()
    for p in /proc/[0-9]*; do
      r=$(readlink "$p/root" 2>/dev/null) || continue
      if [[ $r == "$root" || $r == "$root"/* ]]; then pids+=("${p#/proc/}"); fi
    done
    [[ ${#pids[@]} -gt 0 ]] || return 0
    kill -"$sig" "${pids[@]}" 2>/dev/null || true
    [[ $sig == KILL ]] || for _ in $(seq 50); do
      local alive=0
      for p in "${pids[@]}"; do [[ -e /proc/$p ]] && alive=1; done
      [[ $alive == 1 ]] || return 0
      sleep 0.1
    done
  done
  return 0
}

unmount_under() {
  local root=$1 m
  for m in $(mounts_under "$root"); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  [[ -z $(mounts_under "$root") ]]
}

# Removes a scratch dir, but only once nothing is mounted below it: rm through a bind mount of
# /dev or /sys would delete the host's files. --one-file-system is the second guard.
remove_scratch() {
  local dir=$1
  [[ -d $dir ]] || return 0
  kill_inside "$dir"
  if ! unmount_under "$dir"; then
    echo "fresh-root: warning: could not unmount everything below $dir; left in place:" >&2
    mounts_under "$dir" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

# Scratch roots of earlier runs that were killed before they could clean up (we hold the lock,
# so none of them is in use).
for old in "$cache"/scratch.*; do
  [[ -e $old ]] || continue
  note "removing the scratch root of an earlier run: $old"
  remove_scratch "$old" || die "stale mounts below $old; unmount them by hand"
done

free_kib=$(df -Pk "$cache" | awk 'NR == 2 {print $4}')
if [[ $free_kib -lt $min_free_kib ]]; then
  die "only $((free_kib / 1024)) MiB free in $cache; a run needs about $((min_free_kib / 1024)) MiB"
fi

# --- the cached pristine root -------------------------------------------------------------------

build_tarball() {
  if ! command -v debootstrap >/dev/null; then
    note "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
      die "could not install debootstrap"
  fi
  local build=$cache/build.$$ log=$cache/logs/debootstrap.log
  remove_scratch "$build" || die "stale mounts below $build"
  # A killed earlier build may have left its own directory behind.
  for old in "$cache"/build.*; do
    [[ -e $old ]] && { remove_scratch "$old" || die "stale mounts below $old"; }
  done
  note "debootstrap --variant=minbase --include=$include $suite ($mirror); log: $log"
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$build" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    [[ -f $build/debootstrap/debootstrap.log ]] && tail -n 20 "$build/debootstrap/debootstrap.log" >&2
    remove_scratch "$build" || true
    die "debootstrap failed (is $mirror reachable?); see $log"
  fi
  # What a Debian 12 installation's apt sources are; the lists stay empty, as after an install
  # without network, so the first apt-get install needs the apt-get update install-deps.sh runs.
  cat >"$build/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  chroot "$build" apt-get clean
  rm -rf "${build:?}"/var/lib/apt/lists/* "$build"/etc/resolv.conf "$build"/etc/hostname
  local tmp=$tarball.tmp.$$
  tar --numeric-owner -C "$build" -czpf "$tmp" . || die "could not write $tmp"
  echo "$stamp" >"$tmp.stamp"
  mv "$tmp" "$tarball"
  mv "$tmp.stamp" "$tarball.stamp"
  remove_scratch "$build" || true
  note "cached the pristine root: $tarball ($(du -h "$tarball" | cut -f1))"
}

rm -f "$tarball".tmp.*
# Logs of the last 20 runs are kept.
find "$cache/logs" -maxdepth 1 -name '*-*.log' -printf '%T@ %p\n' | sort -rn | tail -n +21 |
  cut -d' ' -f2- | xargs -r rm -f
if [[ $refresh == 1 || ! -f $tarball || "$(cat "$tarball.stamp" 2>/dev/null)" != "$stamp" ]]; then
  build_tarball
fi

# --- one run ------------------------------------------------------------------------------------

scratch=$(mktemp -d "$cache/scratch.XXXXXX")
root=$scratch/root
log=${SLUICE_FRESH_ROOT_LOG:-$cache/logs/$(date -u +%Y%m%dT%H%M%SZ)-$mode.log}
runner_pid=
heartbeat_pid=

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [[ -z $heartbeat_pid ]] || kill "$heartbeat_pid" 2>/dev/null || true
  [[ -z $runner_pid ]] || kill "$runner_pid" 2>/dev/null || true
  if ! remove_scratch "$scratch"; then
    echo "fresh-root: error: $scratch was left in place (mounts still busy)" >&2
    [[ $status -ne 0 ]] || status=2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo "fresh-root: interrupted" >&2; exit 130' INT
trap 'echo "fresh-root: terminated" >&2; exit 143' TERM HUP

mkdir -p "$root"
tar --numeric-owner -C "$root" -xzpf "$tarball" || die "could not unpack $tarball"
# The host's resolver (its content, even where /etc/resolv.conf is a symlink) so apt-get can
# reach the mirror from inside; a hostname and loopback names as an installed system has them.
cat /etc/resolv.conf >"$root/etc/resolv.conf"
echo sluice-fresh-root >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# The committed tree only: a clone made from the repository's objects, checked out at $sha.
git clone --quiet --no-hardlinks --no-checkout "$repo" "$root/root/sluice" ||
  die "could not clone $repo"
git -C "$root/root/sluice" -c advice.detachedHead=false checkout --quiet --detach "$sha"

# rslave: unmounting these later must not propagate back to the host's /sys and /dev.
{ mount -t proc proc "$root/proc" &&
  mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" &&
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"; } ||
  die "could not mount /proc, /sys and /dev into $root"
[[ -d $root/dev/pts && -d $root/dev/shm ]] || die "/dev/pts or /dev/shm missing in the root"

envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root
  LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb)
[[ -n ${CI:-} ]] && envs+=("CI=$CI")
[[ -n ${SLUICE_WITH_PROMTOOL:-} ]] && envs+=("SLUICE_WITH_PROMTOOL=$SLUICE_WITH_PROMTOOL")

if [[ $mode == run-check ]]; then
  # Ports the embedded default listens on: the root shares the host's network, so something
  # else there would answer curl instead of this sluiced.
  for port in 8080 9901; do
    if ss -Hltn "sport = :$port" | grep -q .; then
      die "port $port is in use on this machine; the run check needs it for sluiced"
    fi
  done
  cat >"$root/root/run-check.sh" <<'EOF'
# In the fresh root: `make run` as the README says (installs, builds, starts sluiced); once
# 127.0.0.1:8080 answers, show the answer and the admin endpoint's, then stop sluiced as Ctrl-C
# would and report whether everything answered.
set -u
cd /root/sluice
setsid make run >/root/make-run.log 2>&1 </dev/null &
make_pid=$!
echo "make run started (pid $make_pid); waiting for 127.0.0.1:8080 (it installs and builds first)"
answered=0
while kill -0 "$make_pid" 2>/dev/null; do
  if curl -sS -i --max-time 5 http://127.0.0.1:8080/ >/root/curl.out 2>/dev/null; then
    answered=1
    break
  fi
  sleep 2
done
tail -n 5 /root/make-run.log
status=1
if [[ $answered == 1 ]]; then
  echo "--- curl -i http://127.0.0.1:8080/"
  cat /root/curl.out
  echo "--- 25 requests:"
  for i in $(seq 25); do
    curl -s -o /dev/null --max-time 5 -w '%{http_code} ' http://127.0.0.1:8080/
  done
  echo
  echo "--- curl http://127.0.0.1:9901/healthz"
  curl -sS --max-time 5 http://127.0.0.1:9901/healthz
  echo
  echo "--- sluiced said:"
  grep -E 'listening on|admin on' /root/make-run.log || true
  if head -n 1 /root/curl.out | grep -q '^HTTP/1.1 200' &&
    grep -qi '^RateLimit-Policy: "per-ip"' /root/curl.out; then
    status=0
  else
    echo "run-check: the answer is not sluiced's 200 with the per-ip policy"
  fi
  kill -INT -- -"$make_pid" 2>/dev/null
  for i in $(seq 100); do kill -0 "$make_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- -"$make_pid" 2>/dev/null
  wait "$make_pid" 2>/dev/null
  echo "--- make run stopped; its last lines:"
  tail -n 5 /root/make-run.log
else
  wait "$make_pid"
  echo "run-check: make run exited ($?) before 127.0.0.1:8080 answered; its log:"
  tail -n 60 /root/make-run.log
fi
[[ $status == 0 ]] && echo "run-check: make run answered curl on 127.0.0.1:8080"
exit "$status"
EOF
  inner=(bash /root/run-check.sh)
else
  # The command runs in the clone as bash would run its words.
  inner=(bash -c 'cd /root/sluice && exec "$@"' fresh-root "${cmd[@]}")
fi

note "commit $sha ($(git -C "$repo" log -1 --format=%s "$sha"))"
note "root: $root (from $tarball)"
note "running: ${inner[*]}"
note "log: $log"
start=$SECONDS
# In the background so that a signal reaches our trap at once (bash would only run it after a
# foreground child ended); stdin is closed, as in CI.
# Neither it nor the heartbeat inherits the lock's descriptor: a process left behind (a sluiced
# from `make run`) must not hold the next run's lock.
chroot "$root" /usr/bin/env -i "${envs[@]}" "${inner[@]}" >"$log" 2>&1 </dev/null 9>&- &
runner_pid=$!
# A line every 5 minutes, so a long build is visibly alive in CI's output.
(
  exec 9>&-
  nap=
  trap '[[ -z $nap ]] || kill "$nap" 2>/dev/null; exit 0' TERM
  main=$$
  while :; do
    sleep 300 &
    nap=$!
    wait "$nap"
    kill -0 "$main" 2>/dev/null || exit 0 # the script was killed (SIGKILL): no orphan heartbeat
    note "still running ($(((SECONDS - start) / 60)) min): $(tail -n 1 "$log" | cut -c1-120)"
  done
) &
heartbeat_pid=$!
set +e
wait "$runner_pid"
status=$?
set -e
runner_pid=
kill "$heartbeat_pid" 2>/dev/null || true
heartbeat_pid=

[[ $status -eq 0 ]] || tail_lines=$((tail_lines > 150 ? tail_lines : 150))
echo "--- last $tail_lines lines of $log"
tail -n "$tail_lines" "$log"
echo "---"
note "${inner[*]} exited $status after $((SECONDS - start)) s (commit ${sha:0:12}); full log: $log"
exit "$status"
}
