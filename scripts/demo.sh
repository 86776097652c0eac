#!/usr/bin/env bash
# make demo: mounts finesse-passthrough (with the server extension) over a scratch directory,
# attaches it, runs the same metadata workload natively, through kernel FUSE and through the
# LD_PRELOAD shim, prints the times and the server's bypass counters, then detaches and
# unmounts — also when interrupted. Needs root and a built tree (FINESSE_BUILD_DIR, default
# build/). FINESSE_DEMO_FILES sets the workload size (default 2000).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${FINESSE_BUILD_DIR:-$ROOT/build}" && pwd)
N=${FINESSE_DEMO_FILES:-2000}
for f in bin/finesse-passthrough bin/finesse-loader bin/finesse-demo-workload \
         lib/libfinesse_fuse.so lib/libfinesse_preload.so; do
  [ -e "$B/$f" ] || { echo "demo: $B/$f is missing: run make first" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root" >&2; exit 1; }

# The data lives in RAM (like the benchmark's source): on this root disk a create or delete
# costs ~140 us and would hide the file-system layer the demo is about.
SCRATCH=$(mktemp -d /tmp/finesse-demo-XXXXXX)
DATA=$(mktemp -d "${FINESSE_DEMO_DATA:-/dev/shm}/finesse-demo-XXXXXX")
SRC=$DATA/src MNT=$SCRATCH/mnt NATIVE=$DATA/native
mkdir -p "$SRC" "$MNT" "$NATIVE"
FS_PID=""
ATTACHED=0

cleanup() {
  trap - EXIT INT TERM HUP
  set +e
  [ "$ATTACHED" = 1 ] && "$B/bin/finesse-loader" detach "$MNT" >/dev/null 2>&1
  if mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
  fi
  if [ -n "$FS_PID" ]; then
    kill "$FS_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$FS_PID" 2>/dev/null
    wait "$FS_PID" 2>/dev/null
  fi
  mountpoint -q "$MNT" 2>/dev/null || rm -rf "$SCRATCH"
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'echo "demo: interrupted, cleaning up" >&2; exit 130' INT TERM HUP

echo "== mounting finesse-passthrough over $SRC at $MNT"
LD_PRELOAD="$B/lib/libfinesse_fuse.so" "$B/bin/finesse-passthrough" "$SRC" "$MNT" -f \
  2>"$SCRATCH/fs.log" &
FS_PID=$!
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || { echo "demo: the mount did not appear:" >&2; cat "$SCRATCH/fs.log" >&2; exit 1; }

echo "== attaching it"
"$B/bin/finesse-loader" attach "$MNT"
ATTACHED=1

# run LABEL DIR [env...]: one workload run; prints "usec ops".
run() {
  local dir=$1; shift
  mkdir -p "$dir"
  local out
  out=$(env "$@" "$B/bin/finesse-demo-workload" "$dir" "$N")
  local ops=${out#ops=}; ops=${ops%% *}
  local usec=${out##*usec=}
  echo "$usec $ops"
}

echo "== workload: $N directories and $N files: mkdir, create, 3x (stat, lstat, access),"
echo "   chmod, rename, stat, unlink, rmdir (plain libc calls, finesse-demo-workload)"
read -r t_native ops < <(run "$NATIVE/w")
read -r t_kernel _ < <(run "$MNT/kernel")
read -r t_shim _ < <(run "$MNT/shim" LD_PRELOAD="$B/lib/libfinesse_preload.so")

echo
awk -v n="$t_native" -v k="$t_kernel" -v s="$t_shim" -v ops="$ops" 'BEGIN {
  printf "%-34s %10s %10s %12s\n", "path", "time (ms)", "us/call", "vs kernel"
  printf "%-34s %10.1f %10.2f %11.2fx\n", "native (no FUSE)", n/1000, n/ops, k/n
  printf "%-34s %10.1f %10.2f %11.2fx\n", "kernel FUSE", k/1000, k/ops, 1
  printf "%-34s %10.1f %10.2f %11.2fx\n", "Finesse bypass (LD_PRELOAD shim)", s/1000, s/ops, k/s
  printf "\n%d calls per run; \"vs kernel\": how many times faster than kernel FUSE.\n", ops
}'

echo
echo "== server counters (finesse-loader stats)"
"$B/bin/finesse-loader" stats | awk -v m="$MNT" '$1 == m {on = 1} on {print} on && /listxattr/ {exit}'
echo
echo "== detaching and unmounting"
