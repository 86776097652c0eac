"""Boot pinned Debian kernels in QEMU and run Finesse's ctest suite inside them.

Usage (what `make vm-test` and CI call; vm-tests/run.py is the entry point):

    python3 vm-tests/run.py --build-dir build

For each kernel pinned in vm-tests/kernels.json, one after the other:

  1. fetch the kernel package with `apt-get download` into a cache outside the source tree
     (/var/cache/finesse-vm-tests, or ~/.cache/finesse-vm-tests when that is not writable),
     verify its sha256 and unpack it with `dpkg -x` (plus `depmod -b` for modules.dep);
  2. build an initramfs (a newc cpio written by this package): busybox-static, an /init script,
     the kernel modules the guest needs (decompressed on the host, insmod'ed in modules.dep
     order), the build tree at the same absolute path as on the host, the host tools the tests
     call, and every shared library all of these need (found with ldd);
  3. boot it with qemu-system-x86_64 (KVM if a quick probe boots, TCG `-cpu max` otherwise)
     under an outer timeout, with the serial console captured to build/vm-tests/<kernel>.log;
  4. read the per-test result lines and the final `FINESSE-VM-RESULT` marker from the console.

Inside the guest every ctest test runs with the command line, working directory and
environment properties ctest would use, under a per-test timeout, its output copied to the
console. Exit status is 0 only if every kernel booted, printed its marker and had no failure.

Modules, one job each:

  common       VmTestError, log(), run() (subprocess helper)
  config       kernels.json, README.md paths, the download/unpack cache, kernel selection
  debs         apt download, sha256 check, dpkg unpack, kernel release/config/modules
  repin        rewriting kernels.json with the newest packages (--repin)
  initramfs    the newc cpio writer, ELF / shebang / ldd helpers
  ctest_plan   ctest's json-v1 as GuestTests: env properties, fixtures, timeouts
  selftest     the built-in --self-test checks (probe sources: selftest_probe.c)
  guest        what goes into the guest image; installs guest_init.sh as /init and
               guest_runner.sh as /finesse/runner.sh, with their values in /finesse/guest.conf
  qemu         the VM lock, scratch disk, qemu command line, booting with console capture and
               timeouts, the KVM probe
  results      parsing the console, documented skips and known failures, reporting
  cli          argparse, one kernel end to end, main

Only the Python standard library is used. See vm-tests/README.md.
"""
