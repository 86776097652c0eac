"""QEMU: the one-VM-at-a-time lock, the guest's /tmp disk, the command line, booting with the
serial console captured to the log under a timeout, and the KVM-or-TCG probe."""

import fcntl
import os
import re
import shutil
import subprocess
import threading
import time

from .common import VmTestError, log, run
from .debs import vmlinuz_path
from .initramfs import Initramfs

LOCK_PATH = "/tmp/finesse-vm.lock"          # one VM at a time on this machine
ANSI_RE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")
# Console lines that mean the guest kernel died or is broken.
FATAL_RE = re.compile(r"Kernel panic|Oops:|general protection fault|Attempted to kill init")
KVM_PROBE_MARKER = "FINESSE-KVM-PROBE-OK"


class VmLock:
    """flock on /tmp/finesse-vm.lock: never two Finesse VMs at once on this machine."""

    def __enter__(self):
        self.fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another VM run holds {LOCK_PATH}; waiting for it")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def make_scratch_disk(workdir, size):
    """A sparse, empty ext4 image for the guest's /tmp (deleted with workdir)."""
    path = os.path.join(workdir, "tmp-disk.ext4")
    r = run(["mkfs.ext4", "-q", "-F", "-L", "finesse-tmp", "-O", "^has_journal",
             "-E", "lazy_itable_init=1,root_owner=0:0", path, size])
    if r.returncode != 0:
        raise VmTestError(f"mkfs.ext4 for the guest's /tmp failed: {r.stderr.strip()} "
                          "(install e2fsprogs, or use --tmp tmpfs)")
    return path


def qemu_command(vmlinuz, initrd, accel, memory, smp, tcg_threads="single"):
    """The qemu command line. Under TCG the vCPUs share one host thread by default
    (thread=single): with multi-threaded TCG the 6.12 guest took 'Oops: int3' in
    syscall_trace_enter when two tests attached syscall tracepoints at once (the kernel
    patches its text with int3 while the other vCPU runs it)."""
    cpu = "host" if accel == "kvm" else "max"
    if accel == "tcg":
        accel = f"tcg,thread={tcg_threads}"
    append = ("console=ttyS0,115200 panic=-1 quiet loglevel=4 rdinit=/init "
              "mitigations=off random.trust_cpu=on")
    return ["qemu-system-x86_64", "-accel", accel, "-cpu", cpu, "-smp", str(smp), "-m", memory,
            "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", vmlinuz, "-initrd", initrd, "-append", append]


def run_qemu(cmd, log_path, timeout, echo=None, stop_on=None):
    """Runs qemu with the serial console on stdout; every line goes to log_path and, if
    echo(line) is true, to our stdout. Kills qemu at the timeout, shortly after a fatal
    console line, or shortly after stop_on matches. Returns (lines, timed_out, seconds)."""
    t0 = time.monotonic()
    lines, state = [], {"fatal": None, "stop": None}
    with open(log_path, "w", errors="replace") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)

        def reader():
            for raw in proc.stdout:
                line = ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
                lines.append(line)
                logf.write(line + "\n")
                logf.flush()
                if echo and echo(line):
                    print(f"  {line.expandtabs(1)}", flush=True)
                if FATAL_RE.search(line) and state["fatal"] is None:
                    state["fatal"] = time.monotonic()
                if stop_on and stop_on.search(line) and state["stop"] is None:
                    state["stop"] = time.monotonic()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        timed_out = False
        while proc.poll() is None:
            now = time.monotonic()
            if now - t0 > timeout:
                timed_out = True
                break
            if state["fatal"] and now - state["fatal"] > 5:      # let the panic text arrive
                break
            if state["stop"] and now - state["stop"] > 15:       # poweroff should be instant
                break
            time.sleep(0.2)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        thread.join(timeout=5)
    return lines, timed_out, time.monotonic() - t0


def choose_accel(requested, kernel_root, release, cache, workdir):
    """'kvm' only if a tiny kvm boot of a real kernel prints a marker within 20 s."""
    if requested != "auto":
        return requested
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    boot_id = open("/proc/sys/kernel/random/boot_id").read().strip()
    stamp = os.path.join(cache, f"kvm-probe-{boot_id}-{release}")
    if os.path.exists(stamp):
        return open(stamp).read().strip()
    img = Initramfs()
    img.add_file("bin/busybox", os.path.realpath(shutil.which("busybox") or "/bin/busybox"), 0o755)
    img.add_chardev("dev/console", 5, 1)
    img.add_bytes("init", "#!/bin/busybox sh\n/bin/busybox echo " + KVM_PROBE_MARKER
                  + "\n/bin/busybox poweroff -f\n", 0o755)
    initrd = os.path.join(workdir, "kvm-probe.cpio")
    img.write(initrd)
    cmd = qemu_command(vmlinuz_path(kernel_root, release), initrd, "kvm", "256M", 1)
    lines, _, secs = run_qemu(cmd, os.path.join(workdir, "kvm-probe.log"), 20,
                              stop_on=re.compile(KVM_PROBE_MARKER))
    accel = "kvm" if any(KVM_PROBE_MARKER in line for line in lines) else "tcg"
    log(f"KVM probe: {'ok' if accel == 'kvm' else 'failed'} in {secs:.1f}s -> using {accel}")
    with open(stamp, "w") as f:
        f.write(accel + "\n")
    return accel
