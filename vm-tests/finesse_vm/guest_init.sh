#!/bin/busybox sh
# Finesse VM-test guest init. Runs as PID 1.
# This file is vm-tests/finesse_vm/guest_init.sh; guest.py installs it unchanged as /init, with
# the host-side values in /finesse/guest.conf (FINESSE_VM_PATH, FINESSE_VM_JOBS), sourced here
# and seen by /finesse/runner.sh (vm-tests/finesse_vm/guest_runner.sh), sourced at the end.
bb=/bin/busybox
. /finesse/guest.conf
export PATH="$FINESSE_VM_PATH"
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$bb mount -t tmpfs -o mode=755 tmpfs /run
$bb mount -t bpf bpf /sys/fs/bpf
$bb mount -t tracefs tracefs /sys/kernel/tracing
$bb mount -t debugfs debugfs /sys/kernel/debug
for m in $($bb cat /finesse/modules.order); do
  $bb insmod "/finesse/modules/$m" || echo "FINESSE-VM-WARN insmod $m failed"
done
# /tmp: the ext4 scratch disk (/dev/vda) when there is one, like the host's /tmp (tmpfs
# lacks user.* xattrs before 6.6), else tmpfs. A build tree packed under /tmp moves onto it.
$bb mkdir /.tmp-stage
if [ -e /finesse/scratch-disk ]; then
  n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do $bb usleep 100000; n=$((n+1)); done
  $bb mount -t ext4 /dev/vda /.tmp-stage || echo "FINESSE-VM-WARN no scratch disk: /tmp is tmpfs"
fi
$bb grep -q ' /.tmp-stage ' /proc/mounts || $bb mount -t tmpfs tmpfs /.tmp-stage
$bb chmod 1777 /.tmp-stage
$bb cp -a /tmp/. /.tmp-stage/ && $bb rm -rf /tmp && $bb mkdir -m 1777 /tmp
$bb mount -o move /.tmp-stage /tmp
echo "FINESSE-VM-TMP $($bb awk '$2 == "/tmp" {print $3}' /proc/mounts)"
[ -c /dev/fuse ] || $bb mknod -m 666 /dev/fuse c 10 229
$bb chmod 666 /dev/fuse
$bb mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
$bb ip link set lo up 2>/dev/null
$bb hostname finesse-vm
echo "FINESSE-VM-BOOTED kernel=$($bb uname -r) modules=$($bb cat /finesse/modules.order | $bb tr '\n' ' ')"
. /finesse/runner.sh
$bb sync
$bb poweroff -f
