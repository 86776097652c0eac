"""The command line: argparse, the test list, one kernel end to end, and main()."""

import argparse
import os
import sys
import tempfile
import time

from . import __doc__ as PACKAGE_DOC
from .common import VmTestError, log
from .config import cache_dir, load_config, select_kernels
from .ctest_plan import adapt_to_accel, ctest_tests, injected_failure_test
from .debs import fetch_kernel_deb, unpack_kernel, vmlinuz_path
from .guest import build_initramfs
from .qemu import FATAL_RE, VmLock, choose_accel, make_scratch_disk, qemu_command, run_qemu
from .repin import repin
from .results import (RESULT_RE, KernelResult, check_known_failures, check_skips,
                      documented_skips, parse_console, print_kernel_report, print_summary)
from .selftest import build_self_test


def parse_args(argv):
    p = argparse.ArgumentParser(description=PACKAGE_DOC.split("\n")[0])
    p.add_argument("--build-dir", default="build", help="CMake build tree (default: build)")
    p.add_argument("--kernel", action="append", default=[],
                   help="run only this kernel (name from kernels.json, e.g. 6.1-cloud; "
                        "or a package name); repeatable")
    p.add_argument("--tests", default="", help="only ctest tests whose name matches this regex")
    p.add_argument("--timeout", type=int, default=1200,
                   help="seconds one guest may run, boot included (default 1200)")
    p.add_argument("--test-timeout", type=int, default=300,
                   help="seconds per test without a TIMEOUT property (default 300, as make test)")
    p.add_argument("--keep-going", action="store_true",
                   help="run the remaining kernels after one failed")
    p.add_argument("--self-test", action="store_true",
                   help="boot each kernel with only built-in checks (FUSE, /dev/fuse, BPF, BTF)")
    p.add_argument("--inject-failure", action="store_true",
                   help="add a failing test inside the guest (same as FINESSE_VM_INJECT_FAILURE=1)")
    p.add_argument("--repin", action="store_true",
                   help="pick the newest package of each series and rewrite kernels.json")
    p.add_argument("--repin-newest", action="store_true",
                   help="with --repin: take the newest even from bookworm-security")
    p.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto",
                   help="auto (default): KVM only if a quick probe boots, else TCG")
    p.add_argument("--memory", default="2G", help="guest memory (default 2G)")
    p.add_argument("--smp", type=int, default=2, help="guest CPUs (default 2)")
    p.add_argument("--tcg-threads", choices=["single", "multi"], default="single",
                   help="TCG: one host thread for all vCPUs (default, see README) or one each")
    p.add_argument("--tmp", choices=["disk", "tmpfs"], default="disk",
                   help="guest /tmp: an ext4 scratch disk like the host's /tmp (default), or "
                        "tmpfs (no user.* xattrs before Linux 6.6)")
    p.add_argument("--tmp-size", default="4G", help="size of the sparse /tmp disk (default 4G)")
    p.add_argument("--jobs", "-j", type=int, default=2,
                   help="tests run in parallel in the guest, like ctest -j (default 2; "
                        "RUN_SERIAL/RESOURCE_LOCK tests and fixtures always run alone)")
    p.add_argument("--tcg-timeout-scale", type=float, default=3.0,
                   help="under TCG, multiply TIMEOUT properties and the harness watchdog "
                        "(FINESSE_TEST_TIMEOUT) by this (default 3)")
    p.add_argument("--guest-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for every test in the guest; repeatable")
    p.add_argument("--extra-path", action="append", default=[],
                   help="host file or directory to add to the guest at the same path; repeatable")
    p.add_argument("--no-strip", action="store_true",
                   help="keep debug info in the build tree's ELF files")
    p.add_argument("--verbose", "-v", action="store_true", help="echo the whole guest console")
    return p.parse_args(argv)



def collect_tests(args, cfg, workdir):
    """The guest's test list and extra files: ctest's tests, or the self-test checks."""
    extra_files = []
    if args.self_test:
        tests, extra_files = build_self_test(workdir)
    else:
        if not os.path.exists(os.path.join(args.build_dir, "CTestTestfile.cmake")):
            raise VmTestError(f"{args.build_dir} is not a configured build tree with tests "
                              "(run cmake -S . -B build && cmake --build build first)")
        tests = ctest_tests(args.build_dir, args.tests, args.test_timeout,
                            "|".join(e["regex"] for e in cfg["guest"].get("exclude", [])))
        if not tests:
            log("ctest lists no tests" + (f" matching {args.tests!r}" if args.tests else "")
                + ": running the built-in self-test checks instead")
            tests, extra_files = build_self_test(workdir)
    if args.inject_failure or os.environ.get("FINESSE_VM_INJECT_FAILURE") == "1":
        log("FINESSE_VM_INJECT_FAILURE: adding a deliberately failing test")
        tests.append(injected_failure_test())
    return tests, extra_files



def run_kernel(kernel, cfg, args, tests, extra_files, cache, out_dir, accel_choice):
    """Fetch, pack, boot and judge one kernel; returns a KernelResult."""
    result = KernelResult(kernel["name"])
    deb = fetch_kernel_deb(kernel, cache)
    root, release = unpack_kernel(kernel, deb, cache)
    log_path = os.path.join(out_dir, f"{kernel['name']}.log")
    with tempfile.TemporaryDirectory(prefix="finesse-vm-") as work:
        accel = accel_choice(root, release, work)
        tests = adapt_to_accel(tests, accel, args.tcg_timeout_scale, args.guest_env)
        initrd = os.path.join(work, "initramfs.cpio")
        size, secs, modules = build_initramfs(
            initrd, root, release, cfg, tests, None if args.self_test else args.build_dir,
            extra_files, args.extra_path, not args.no_strip, args.jobs, args.tmp == "disk")
        result.image_bytes, result.image_secs = size, secs
        log(f"[{kernel['name']}] {kernel['package']} {kernel['version']} ({release}); "
            f"initramfs {size / 1e6:.0f} MB in {secs:.1f}s; modules: {' '.join(modules) or '-'}; "
            f"{len(tests)} tests; accel {accel}")
        cmd = qemu_command(vmlinuz_path(root, release), initrd, accel, args.memory, args.smp,
                           args.tcg_threads)
        if args.tmp == "disk":
            cmd += ["-drive", f"file={make_scratch_disk(work, args.tmp_size)},format=raw,"
                    "if=virtio,cache=unsafe"]
        echo = (lambda line: True) if args.verbose else \
            (lambda line: line.startswith(("FINESSE-VM-TEST", "FINESSE-VM-RESULT",
                                           "FINESSE-VM-BOOTED", "FINESSE-VM-WARN",
                                           "FINESSE-VM-TMP"))
             or bool(FATAL_RE.search(line)))
        lines, timed_out, boot_secs = run_qemu(cmd, log_path, args.timeout, echo, RESULT_RE)
    result.boot_secs = boot_secs
    parse_console(lines, tests, result)
    if timed_out:
        result.problems.append(f"guest timed out after {args.timeout}s")
        result.ok = False
    if not args.self_test:
        check_skips(result, lines, documented_skips())
        check_known_failures(result, kernel["name"])
    print_kernel_report(result, lines, log_path)
    return result


def run_all(argv):
    """Everything but the top-level error handling; returns the exit status."""
    args = parse_args(argv)
    cfg = load_config()
    cache = cache_dir()
    if args.repin:
        repin(cfg, cache, prefer_main=not args.repin_newest)
        return 0
    args.build_dir = os.path.abspath(args.build_dir)
    # kernels.json's guest env first; --guest-env overrides it.
    args.guest_env = {**{e["name"]: e["value"] for e in cfg["guest"].get("env", [])},
                      **dict(kv.partition("=")[::2] for kv in args.guest_env)}
    args.extra_path = [os.path.abspath(p) for p in args.extra_path]
    out_dir = os.path.join(args.build_dir, "vm-tests")
    os.makedirs(out_dir, exist_ok=True)
    kernels = select_kernels(cfg, args.kernel)
    results, t_start = [], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="finesse-vm-") as workdir, VmLock():
        tests, extra_files = collect_tests(args, cfg, workdir)
        accel = {}

        def accel_choice(root, release, work):  # probe once per run, with the first kernel
            if "value" not in accel:
                accel["value"] = choose_accel(args.accel, root, release, cache, work)
            return accel["value"]

        for kernel in kernels:
            try:
                res = run_kernel(kernel, cfg, args, tests, extra_files, cache, out_dir,
                                 accel_choice)
            except VmTestError as e:
                res = KernelResult(kernel["name"])
                res.problems.append(str(e))
                print(f"  [{kernel['name']}] ERROR: {e}", flush=True)
            results.append(res)
            if not res.ok and not args.keep_going and kernel is not kernels[-1]:
                log("stopping after the first failed kernel (use --keep-going to continue)")
                break
    print_summary(results, time.monotonic() - t_start)
    ok = len(results) == len(kernels) and all(r.ok for r in results)
    return 0 if ok else 1


def main(argv=None):
    """vm-tests/run.py's entry point: the exit status (2 for a VmTestError, 130 for ^C)."""
    try:
        return run_all(sys.argv[1:] if argv is None else argv)
    except VmTestError as e:
        print(f"vm-test: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
