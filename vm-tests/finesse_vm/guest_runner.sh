# Finesse VM-test runner, sourced by /init (guest_init.sh).
# This file is vm-tests/finesse_vm/guest_runner.sh, installed unchanged as /finesse/runner.sh;
# FINESSE_VM_JOBS (tests run at once in the parallel phase) comes from /finesse/guest.conf.
# Console protocol (fields separated by tabs, test names may contain spaces):
#   FINESSE-VM-START <name>                      a test started
#   FINESSE-VM-BEGIN <name> ... FINESSE-VM-END <name> rc=N   its output
#   FINESSE-VM-SKIPCASE <name> <gtest case>      a gtest case that skipped
#   FINESSE-VM-TEST <PASS|FAIL|SKIP> <N>s <name> <note>
#   FINESSE-VM-RESULT kernel=... passed=N failed=M skipped=K   (last line)
bb=/bin/busybox
R=/tmp/finesse-vm
$bb mkdir -p $R
TAB=$($bb printf '\t')

# Only one test prints its block at a time (mkdir is atomic).
lock_console() { until $bb mkdir $R/console.lock 2>/dev/null; do $bb usleep 20000; done; }
unlock_console() { $bb rmdir $R/console.lock; }

# report RESULT SECONDS NOTE: prints the test's output block and result line.
report() {
  echo "$1" >$R/$idx.result
  lock_console
  echo "FINESSE-VM-BEGIN$TAB$name"
  $bb cat "$out"
  echo "FINESSE-VM-END$TAB$name${TAB}rc=$rc"
  for sc in $($bb sed -n 's/^\[  SKIPPED \] \([^ ,]*\.[^ ,]*\)[, ].*(.*/\1/p' "$out" | $bb sort -u); do
    echo "FINESSE-VM-SKIPCASE$TAB$name$TAB$sc"
  done
  echo "FINESSE-VM-TEST$TAB$1$TAB${2}s$TAB$name$TAB$3"
  unlock_console
}

# run_test IDX: runs /finesse/tests/IDX.sh with the ctest rules in /finesse/tests/IDX.meta
# (name tmo will_fail skip_rc skip_re pass_re fail_re disabled).
run_test() {
  idx=$1
  . /finesse/tests/$idx.meta
  out=$R/$idx.out rc=-
  : >"$out"
  if [ "$disabled" = 1 ]; then report SKIP 0 "DISABLED property"; return; fi
  echo "FINESSE-VM-START$TAB$name"
  start=$($bb date +%s)
  # Own session (setsid) so everything the test started can be killed afterwards;
  # busybox timeout SIGKILLs it after $tmo seconds.
  $bb timeout -s KILL "$tmo" $bb setsid /bin/busybox sh /finesse/tests/$idx.sh </dev/null >"$out" 2>&1 &
  pid=$!
  wait $pid
  rc=$?
  $bb kill -KILL -$pid 2>/dev/null
  dur=$(( $($bb date +%s) - start ))
  result=FAIL note="exit status $rc"
  if [ "$rc" = 137 ] && [ "$dur" -ge "$tmo" ]; then
    note="TIMEOUT after ${tmo}s"
  elif [ -n "$skip_rc" ] && [ "$rc" = "$skip_rc" ]; then
    result=SKIP note="SKIP_RETURN_CODE $rc"
  elif [ -n "$skip_re" ] && $bb grep -Eq -- "$skip_re" "$out"; then
    result=SKIP note="SKIP_REGULAR_EXPRESSION"
  else
    ok=0
    if [ -n "$pass_re" ]; then
      $bb grep -Eq -- "$pass_re" "$out" && ok=1
    elif [ "$rc" = 0 ]; then
      ok=1
    fi
    if [ -n "$fail_re" ] && $bb grep -Eq -- "$fail_re" "$out"; then ok=0 note="FAIL_REGULAR_EXPRESSION"; fi
    [ "$will_fail" = 1 ] && ok=$((1-ok))
    [ "$ok" = 1 ] && result=PASS note=""
    # A gtest binary whose cases all skipped counts as skipped.
    if [ "$result" = PASS ] && $bb grep -qF '[  SKIPPED ]' "$out" \
        && $bb grep -q '^\[  PASSED  \] 0 tests' "$out"; then
      result=SKIP note="all gtest cases skipped"
    fi
  fi
  report $result $dur "$note"
}

# worker LIST: takes the next unclaimed test of LIST (claims are atomic mkdirs) until none left.
worker() {
  while read -r i; do
    $bb mkdir $R/claim.$i 2>/dev/null || continue
    run_test $i
  done <"$1"
}

# Unmounts FUSE mounts left behind (only between phases: tests of a phase may run in parallel).
cleanup_mounts() {
  for mnt in $($bb awk '$3 == "fuse" || $3 ~ /^fuse\./ {print $2}' /proc/mounts); do
    echo "FINESSE-VM-WARN a test left a FUSE mount at $mnt"; $bb umount -l "$mnt"
  done
}

# run_phase LIST JOBS
run_phase() {
  [ -s "$1" ] || return 0
  n=0
  while [ $n -lt "$2" ]; do worker "$1" & n=$((n+1)); done
  wait
  cleanup_mounts
}

run_phase /finesse/phase-setup.list 1
run_phase /finesse/phase-parallel.list "$FINESSE_VM_JOBS"
run_phase /finesse/phase-serial.list 1
run_phase /finesse/phase-cleanup.list 1
passed=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^PASS$')
failed=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^FAIL$')
skipped=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^SKIP$')
echo "FINESSE-VM-RESULT kernel=$($bb uname -r) passed=$passed failed=$failed skipped=$skipped"
