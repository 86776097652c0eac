"""The built-in --self-test checks (FUSE, /dev/fuse, BPF, BTF, tracefs, users), used when
asked for or when ctest lists no tests. The probe's C source is selftest_probe.c."""

import os
import shlex
import shutil

from .common import VmTestError, log, run
from .ctest_plan import GUEST_BASE_ENV, GuestTest

# Sources of the self-test probe (compiled on the host if a C compiler is present).
PROBE_C_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "selftest_probe.c")
LIBFUSE_HELLO = "/usr/share/doc/libfuse3-dev/examples/hello.c"


def build_self_test(workdir):
    """Compiles the probe (and libfuse's hello example if available) and returns
    (list of GuestTests, list of host files to pack)."""
    files, tests = [], []
    sh = lambda name, script: tests.append(GuestTest(  # noqa: E731
        f"selftest.{name}", ["/bin/sh", "-c", script], "/", dict(GUEST_BASE_ENV), 60))
    sh("fuse-registered", "grep -w fuse /proc/filesystems")
    sh("dev-fuse", "ls -l /dev/fuse && test -c /dev/fuse")
    sh("fusectl", "grep ' /sys/fs/fuse/connections fusectl ' /proc/mounts")
    sh("bpffs", "grep ' /sys/fs/bpf bpf ' /proc/mounts")
    sh("btf-vmlinux", "ls -l /sys/kernel/btf/vmlinux && test -s /sys/kernel/btf/vmlinux")
    sh("btf-fuse-types", "ls /sys/kernel/btf/ | grep -E '^(vmlinux|fuse)$'; "
       "grep -qs fuse_file /sys/kernel/btf/vmlinux /sys/kernel/btf/fuse && echo 'struct fuse_file in BTF'")
    sh("tracefs-syscalls", "ls -d /sys/kernel/tracing/events/syscalls/sys_enter_openat")
    sh("nobody-user", "grep '^nobody:x:65534:65534:' /etc/passwd && grep '^nogroup:x:65534:' /etc/group")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        log("self-test: no C compiler: skipping the BPF and FUSE mount probes")
        return tests, files
    probe = os.path.join(workdir, "finesse-vm-probe")
    src = os.path.join(workdir, "probe.c")
    shutil.copyfile(PROBE_C_PATH, src)
    r = run([cc, "-O2", "-o", probe, src])
    if r.returncode != 0:
        raise VmTestError(f"compiling the self-test probe failed:\n{r.stderr}")
    guest_probe = "/finesse/bin/finesse-vm-probe"
    files.append((guest_probe, probe))
    sh("bpf-syscall", f"{guest_probe} bpf")
    sh("bpf-tracepoint", f"{guest_probe} bpf-tracepoint")
    sh("fuse-raw-mount", f"{guest_probe} fuse-mount /tmp/fuse-raw")
    pc = run(["pkg-config", "--cflags", "--libs", "fuse3"])
    if os.path.exists(LIBFUSE_HELLO) and pc.returncode == 0:
        hello = os.path.join(workdir, "hello")
        r = run([cc, "-O2", "-o", hello, LIBFUSE_HELLO] + pc.stdout.split())
        if r.returncode == 0:
            files.append(("/finesse/bin/fuse-hello", hello))
            mount_and_read = ("mkdir -p {d} && /finesse/bin/fuse-hello {d} && "
                              "cat {d}/hello && grep -q 'Hello World' {d}/hello && "
                              "fusermount3 -u {d}")
            sh("fuse-hello-root", mount_and_read.format(d="/tmp/hello-root"))
            sh("fuse-hello-nobody",
               "mkdir -p /tmp/hello-nobody && chmod 777 /tmp/hello-nobody && "
               f"{guest_probe} runas 65534 65534 /bin/sh -c "
               + shlex.quote("id && " + mount_and_read.format(d="/tmp/hello-nobody")))
    return tests, files
