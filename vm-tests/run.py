#!/usr/bin/env python3
"""Boot pinned Debian kernels in QEMU and run Finesse's ctest suite inside them.

Usage (what `make vm-test` and CI call):

    python3 vm-tests/run.py --build-dir build

For each kernel pinned in vm-tests/kernels.json, one after the other:

  1. fetch the kernel package with `apt-get download` into a cache outside the source tree
     (/var/cache/finesse-vm-tests, or ~/.cache/finesse-vm-tests when that is not writable),
     verify its sha256 and unpack it with `dpkg -x` (plus `depmod -b` for modules.dep);
  2. build an initramfs (a newc cpio written by this script): busybox-static, an /init script,
     the kernel modules the guest needs (decompressed on the host, insmod'ed in modules.dep
     order), the build tree at the same absolute path as on the host, the host tools the tests
     call, and every shared library all of these need (found with ldd);
  3. boot it with qemu-system-x86_64 (KVM if a quick probe boots, TCG `-cpu max` otherwise)
     under an outer timeout, with the serial console captured to build/vm-tests/<kernel>.log;
  4. read the per-test result lines and the final `FINESSE-VM-RESULT` marker from the console.

Inside the guest every ctest test runs with the command line, working directory and
environment properties ctest would use, under a per-test timeout, its output copied to the
console. Exit status is 0 only if every kernel booted, printed its marker and had no failure.

Only the Python standard library is used. See vm-tests/README.md.
"""

import argparse
import fcntl
import functools
import gzip
import hashlib
import json
import lzma
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS_JSON = os.path.join(HERE, "kernels.json")
README = os.path.join(HERE, "README.md")

LOCK_PATH = "/tmp/finesse-vm.lock"          # one VM at a time on this machine
SYSTEM_CACHE = "/var/cache/finesse-vm-tests"
RESULT_RE = re.compile(
    r"FINESSE-VM-RESULT kernel=(\S+) passed=(\d+) failed=(\d+) skipped=(\d+)")
TEST_RE = re.compile(r"^FINESSE-VM-TEST\t(PASS|FAIL|SKIP)\t(\d+)s\t([^\t]*)\t?(.*)$")
SKIPCASE_RE = re.compile(r"^FINESSE-VM-SKIPCASE\t([^\t]*)\t(\S+)$")
ANSI_RE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")
# Console lines that mean the guest kernel died or is broken.
FATAL_RE = re.compile(r"Kernel panic|Oops:|general protection fault|Attempted to kill init")
KVM_PROBE_MARKER = "FINESSE-KVM-PROBE-OK"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GUEST_BASE_ENV = {"PATH": GUEST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
                  "SHELL": "/bin/sh"}
# ctest passes its own environment on; pass the project's knobs (FINESSE_*) the same way.
GUEST_BASE_ENV.update({k: v for k, v in os.environ.items()
                       if k.startswith("FINESSE_") and not k.startswith("FINESSE_VM_")})
# Build-tree content that is never needed at run time.
SKIP_BUILD_DIRS = {"CMakeFiles", "Testing", "vm-tests", ".cmake"}
SKIP_BUILD_SUFFIXES = (".o", ".obj", ".a", ".gch", ".pch", ".d")


class VmTestError(Exception):
    """A problem that ends the run with a clear one-paragraph message."""


def log(msg):
    print(f"vm-test: {msg}", flush=True)


def run(cmd, **kw):
    """subprocess.run with text output captured; never raises on a non-zero status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# --------------------------------------------------------------------------------------------
# Configuration and cache
# --------------------------------------------------------------------------------------------

def load_config():
    with open(KERNELS_JSON) as f:
        return json.load(f)


def cache_dir():
    """The download/unpack cache: outside the source tree, shared by all checkouts."""
    if os.environ.get("FINESSE_VM_CACHE"):
        path = os.environ["FINESSE_VM_CACHE"]
    else:
        path = SYSTEM_CACHE
        try:
            os.makedirs(path, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise PermissionError(path)
        except OSError:
            base = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
            path = os.path.join(base, "finesse-vm-tests")
    os.makedirs(path, exist_ok=True)
    return path


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deb_filename(pkg, version):
    # apt-get download names files <pkg>_<version with ':' as %3a>_<arch>.deb
    return f"{pkg}_{version.replace(':', '%3a')}_amd64.deb"


# --------------------------------------------------------------------------------------------
# Fetching and unpacking kernels
# --------------------------------------------------------------------------------------------

class AptState:
    """Remembers whether this run already did `apt-get update` (done at most once)."""
    updated = False


def apt_update_once():
    if AptState.updated:
        return False
    AptState.updated = True
    if os.geteuid() != 0:
        log("package not found and not root: cannot run `apt-get update` (run it as root)")
        return False
    log("running `apt-get update` once (package not in the local lists)")
    r = run(["apt-get", "update", "-qq"])
    if r.returncode != 0:
        log(f"apt-get update failed: {r.stderr.strip()}")
    return r.returncode == 0


def apt_download(pkg, version, dest_dir):
    """apt-get download pkg=version into dest_dir; returns the .deb path or raises."""
    cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", f"{pkg}={version}"]
    r = run(cmd, cwd=dest_dir)
    if r.returncode != 0 and apt_update_once():
        r = run(cmd, cwd=dest_dir)
    path = os.path.join(dest_dir, deb_filename(pkg, version))
    if r.returncode != 0 or not os.path.exists(path):
        raise VmTestError(
            f"cannot download pinned kernel package {pkg}={version}: "
            f"{(r.stderr or r.stdout).strip()}\n"
            "  The archive has probably dropped this version (bookworm-security keeps only recent "
            "builds; bookworm/main changes at point releases).\n"
            "  Re-pin with:  python3 vm-tests/run.py --repin   (rewrites vm-tests/kernels.json, "
            "then commit it)")
    return path


def fetch_kernel_deb(kernel, cache):
    """Returns the path of the verified .deb for a kernels.json entry (downloading if needed)."""
    pkg, version, want = kernel["package"], kernel["version"], kernel["sha256"]
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    path = os.path.join(debs, deb_filename(pkg, version))
    if os.path.exists(path) and sha256_of(path) == want:
        return path
    with tempfile.TemporaryDirectory(dir=debs, prefix=".dl-") as tmp:
        log(f"downloading {pkg}={version}")
        got_path = apt_download(pkg, version, tmp)
        got = sha256_of(got_path)
        if got != want:
            raise VmTestError(
                f"sha256 mismatch for {pkg}={version}:\n  expected {want} (vm-tests/kernels.json)"
                f"\n  got      {got}\n  Refusing to boot it. If the archive legitimately rebuilt "
                "the package, re-pin with: python3 vm-tests/run.py --repin")
        os.replace(got_path, path)
    return path


def unpack_kernel(kernel, deb, cache):
    """dpkg -x the package once into the cache; returns (root dir, kernel release)."""
    root = os.path.join(cache, "kernels", f"{kernel['package']}_{kernel['version']}")
    stamp = os.path.join(root, ".finesse-unpacked")
    if not (os.path.exists(stamp) and open(stamp).read().strip() == kernel["sha256"]):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        r = run(["dpkg", "-x", deb, root])
        if r.returncode != 0:
            raise VmTestError(f"dpkg -x {deb} failed: {r.stderr.strip()}")
        release = kernel_release(root)
        # The package ships no modules.dep (its postinst runs depmod): generate it.
        r = run(["depmod", "-b", root, release])
        if r.returncode != 0:
            raise VmTestError(f"depmod -b {root} {release} failed: {r.stderr.strip()}")
        with open(stamp, "w") as f:
            f.write(kernel["sha256"] + "\n")
    return root, kernel_release(root)


def kernel_release(root):
    mods = os.path.join(root, "lib", "modules")
    releases = sorted(os.listdir(mods)) if os.path.isdir(mods) else []
    if len(releases) != 1:
        raise VmTestError(f"expected one kernel release under {mods}, found {releases}")
    return releases[0]


def vmlinuz_path(root, release):
    path = os.path.join(root, "boot", f"vmlinuz-{release}")
    if not os.path.exists(path):
        raise VmTestError(f"no boot/vmlinuz-{release} in the unpacked package at {root}")
    return path


def kernel_config(root, release):
    """The kernel's CONFIG_* settings from boot/config-<release> as a dict."""
    conf = {}
    with open(os.path.join(root, "boot", f"config-{release}")) as f:
        for line in f:
            m = re.match(r"^(CONFIG_\w+)=(.*)$", line.strip())
            if m:
                conf[m.group(1)] = m.group(2)
    return conf


# --------------------------------------------------------------------------------------------
# Kernel modules
# --------------------------------------------------------------------------------------------

def module_load_order(root, release, wanted):
    """Module files (relative to lib/modules/<release>) to insmod, dependencies first.

    Modules built into the kernel (modules.builtin) are left out. Raises if a wanted module
    exists neither as a module nor built in."""
    moddir = os.path.join(root, "lib", "modules", release)
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            target, _, rest = line.partition(":")
            deps[target.strip()] = rest.split()
    by_name = {module_name(p): p for p in deps}
    builtin = set()
    with open(os.path.join(moddir, "modules.builtin")) as f:
        builtin = {module_name(line.strip()) for line in f if line.strip()}

    order, seen = [], set()

    def visit(path):  # depth-first, post-order: dependencies before dependants
        if path in seen:
            return
        seen.add(path)
        for dep in deps.get(path, []):
            visit(dep)
        order.append(path)

    for name in wanted:
        name = name.replace("-", "_")
        if name in by_name:
            visit(by_name[name])
        elif name not in builtin:
            raise VmTestError(f"kernel {release} has no module or built-in named {name!r}")
    return order


def module_name(path):
    base = os.path.basename(path)
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base.replace("-", "_")


def read_module(path):
    """A module's bytes, decompressed (.ko.xz/.ko.zst/.ko) so busybox insmod can load it."""
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".zst"):
        r = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=False)
        if r.returncode != 0:
            raise VmTestError(f"zstd -dc {path} failed (is zstd installed?)")
        return r.stdout
    if path.endswith(".gz"):
        with gzip.open(path) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------------------------
# The initramfs image
# --------------------------------------------------------------------------------------------

class Initramfs:
    """An in-memory list of what goes into the guest's root, written out as a newc cpio.

    Paths are guest paths without the leading '/'. Host files are referenced, not copied,
    until write() streams them into the archive."""

    def __init__(self):
        self.entries = {}  # path -> (kind, payload, mode); kind in dir/file/bytes/link/chr

    # -- adding entries -------------------------------------------------------------------
    def _parents(self, path):
        parent = os.path.dirname(path)
        if parent and parent not in self.entries:
            self._parents(parent)
            self.entries[parent] = ("dir", None, 0o755)

    def resolve(self, path):
        """Follows directory symlinks already in the image (e.g. bin -> usr/bin)."""
        parts, out = path.strip("/").split("/"), ""
        for i, part in enumerate(parts):
            cur = f"{out}/{part}" if out else part
            entry = self.entries.get(cur)
            if entry and entry[0] == "link" and i < len(parts) - 1:
                target = entry[1]
                cur = os.path.normpath(os.path.join(os.path.dirname(cur), target)).lstrip("/") \
                    if not target.startswith("/") else target.lstrip("/")
                cur = self.resolve(cur)
            out = cur
        return out

    def add_dir(self, path, mode=0o755):
        path = self.resolve(path)
        self._parents(path)
        self.entries[path] = ("dir", None, mode)

    def add_bytes(self, path, data, mode=0o644):
        path = self.resolve(path)
        self._parents(path)
        self.entries[path] = ("bytes", data if isinstance(data, bytes) else data.encode(), mode)

    def add_file(self, path, src, mode=None):
        path = self.resolve(path)
        self._parents(path)
        self.entries[path] = ("file", src, mode if mode is not None else os.stat(src).st_mode & 0o7777)

    def add_symlink(self, path, target):
        path = self.resolve(path)
        self._parents(path)
        self.entries[path] = ("link", target, 0o777)

    def add_chardev(self, path, major, minor, mode=0o600):
        path = self.resolve(path)
        self._parents(path)
        self.entries[path] = ("chr", (major, minor), mode)

    def has(self, path):
        return self.resolve(path) in self.entries

    def add_host_path(self, path, src=None):
        """Mirrors host file `path` at the same guest path, recreating symlinks on the way
        (so /lib64/ld-linux-x86-64.so.2 brings lib64 -> usr/lib64 and the real file).
        `src` optionally gives different content (e.g. a stripped copy)."""
        path = os.path.abspath(path)
        parts = path.strip("/").split("/")
        cur = "/"
        for i, part in enumerate(parts):
            nxt = os.path.join(cur, part)
            if os.path.islink(nxt):
                target = os.readlink(nxt)
                self.add_symlink(nxt, target)
                resolved = os.path.normpath(os.path.join(cur, target))
                rest = parts[i + 1:]
                return self.add_host_path(os.path.join(resolved, *rest) if rest else resolved, src)
            if i < len(parts) - 1:
                if not self.has(nxt):
                    self.add_dir(nxt)
            elif os.path.isdir(nxt):
                self.add_dir(nxt)
            else:
                self.add_file(nxt, src or nxt)
            cur = nxt
        return path

    # -- writing ----------------------------------------------------------------------------
    def size(self):
        total = 0
        for kind, payload, _ in self.entries.values():
            if kind == "file":
                total += os.path.getsize(payload)
            elif kind == "bytes":
                total += len(payload)
        return total

    def write(self, out_path):
        """Writes a newc cpio (all files owned by root). Parents sort before children."""
        with open(out_path, "wb") as out:
            for ino, path in enumerate(sorted(self.entries), start=1):
                kind, payload, mode = self.entries[path]
                rdev = (0, 0)
                if kind == "dir":
                    ftype, data = 0o040000, b""
                elif kind == "link":
                    ftype, data = 0o120000, payload.encode()
                elif kind == "chr":
                    ftype, data, rdev = 0o020000, b"", payload
                elif kind == "bytes":
                    ftype, data = 0o100000, payload
                else:
                    ftype, data = 0o100000, None
                size = os.path.getsize(payload) if kind == "file" else len(data)
                cpio_header(out, path, ino, ftype | mode, size, rdev)
                if data is None:
                    with open(payload, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
                else:
                    out.write(data)
                out.write(b"\0" * (-size % 4))
            cpio_header(out, "TRAILER!!!", 0, 0, 0, (0, 0))


def cpio_header(out, name, ino, mode, size, rdev):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, size, 0, 0, rdev[0], rdev[1],
              len(name_b), 0]
    out.write(b"070701" + b"".join(b"%08X" % v for v in fields))
    out.write(name_b)
    out.write(b"\0" * (-(110 + len(name_b)) % 4))


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def shebang_interpreter(path):
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n")[0].split()
        return words[0].decode() if words else None
    return None


def shared_libraries(paths):
    """All shared libraries (and the dynamic loader) the ELF files need, via host ldd."""
    libs = set()
    for path in paths:
        r = run(["ldd", path])
        if r.returncode != 0:  # static executables and non-loadable objects
            continue
        for line in r.stdout.splitlines():
            line = line.strip()
            m = re.match(r"^(\S+) => (/\S+) \(", line) or re.match(r"^(/\S+) \(", line)
            if m:
                libs.add(m.groups()[-1])
            elif "not found" in line:
                log(f"warning: ldd {path}: {line}")
    return libs


# --------------------------------------------------------------------------------------------
# Tests: discovery from ctest and the guest-side scripts
# --------------------------------------------------------------------------------------------

class GuestTest:
    """One test as the guest runs it: a name, an argv, a directory, an env and ctest's rules."""

    def __init__(self, name, argv, cwd, env, timeout, will_fail=False, skip_rc="",
                 skip_re="", pass_re="", fail_re="", disabled=False, phase="parallel",
                 has_timeout_property=False):
        self.name, self.argv, self.cwd, self.env = name, argv, cwd, env
        self.timeout, self.will_fail, self.disabled = timeout, will_fail, disabled
        self.skip_rc, self.skip_re, self.pass_re, self.fail_re = skip_rc, skip_re, pass_re, fail_re
        self.phase, self.has_timeout_property = phase, has_timeout_property


def ctest_tests(build_dir, name_filter, default_timeout, exclude=""):
    """The tests `ctest --test-dir build -R name_filter -E exclude` would run, as GuestTests in
    ctest's order (a filtered run still gets the fixture setup/cleanup tests it requires, as in
    ctest). Disabled tests (gtest's DISABLED_ cases) are left out, as ctest does not run them."""
    r = run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"])
    if r.returncode != 0:
        raise VmTestError(f"ctest --show-only=json-v1 failed in {build_dir}: {r.stderr.strip()}")
    entries = []
    for t in json.loads(r.stdout).get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        entries.append((t, props))
    selected = {t["name"] for t, props in entries
                if (not name_filter or re.search(name_filter, t["name"]))
                and not (exclude and re.search(exclude, t["name"]))
                and not cmake_true(props.get("DISABLED"))}
    needed = {f for t, props in entries if t["name"] in selected
              for f in props.get("FIXTURES_REQUIRED", [])}
    tests = []
    for t, props in entries:
        fixture_phase = None
        if set(props.get("FIXTURES_SETUP", [])) & needed:
            fixture_phase = "setup"
        elif set(props.get("FIXTURES_CLEANUP", [])) & needed:
            fixture_phase = "cleanup"
        if t["name"] not in selected and not fixture_phase:
            continue
        tests.append(guest_test_from_ctest(t, props, build_dir, default_timeout, fixture_phase))
    return tests


def guest_test_from_ctest(t, props, build_dir, default_timeout, fixture_phase):
    """One ctest json-v1 entry as a GuestTest."""
    argv = t.get("command") or []
    if not argv:  # NOT_AVAILABLE: the executable target was not built
        argv = ["/bin/sh", "-c", f"echo 'test {t['name']} has no command (not built?)'; exit 1"]
    serial = cmake_true(props.get("RUN_SERIAL")) or bool(props.get("RESOURCE_LOCK"))
    timeout = int(float(props.get("TIMEOUT", 0) or 0))
    return GuestTest(
        name=t["name"], argv=argv, cwd=props.get("WORKING_DIRECTORY", build_dir),
        env=apply_ctest_env(dict(GUEST_BASE_ENV), props),
        timeout=timeout or default_timeout, has_timeout_property=bool(timeout),
        will_fail=cmake_true(props.get("WILL_FAIL")),
        skip_rc=str(props.get("SKIP_RETURN_CODE", "")),
        skip_re=regex_alternation(props.get("SKIP_REGULAR_EXPRESSION")),
        pass_re=regex_alternation(props.get("PASS_REGULAR_EXPRESSION")),
        fail_re=regex_alternation(props.get("FAIL_REGULAR_EXPRESSION")),
        disabled=cmake_true(props.get("DISABLED")),
        phase=fixture_phase or ("serial" if serial else "parallel"))


def adapt_to_accel(tests, accel, scale, guest_env):
    """Copies of the tests for one guest: TIMEOUT properties multiplied by `scale` under TCG
    (emulation is several times slower than the host), the harness's own watchdog
    (FINESSE_TEST_TIMEOUT, default 30 s) and the shim's wait for a server's welcome raised likewise
    unless set, and --guest-env added."""
    out = []
    for t in tests:
        c = GuestTest(**vars(t))
        c.env = dict(t.env)
        if accel == "tcg":
            if t.has_timeout_property:
                c.timeout = int(t.timeout * scale)
            c.env.setdefault("FINESSE_TEST_TIMEOUT", str(int(30 * scale)))
            # The shim's bound on waiting for a server's welcome (default 1 s): a guest under
            # load waits longer for everything (a ShimCases test saw it run out on 6.1).
            c.env.setdefault("FINESSE_HANDSHAKE_TIMEOUT_MS", str(int(1000 * scale)))
        c.env.update(guest_env)
        out.append(c)
    return out


def cmake_true(value):
    """CMake's notion of a true property value (json-v1 gives booleans or strings)."""
    if isinstance(value, bool):
        return value
    return str(value or "").upper() in ("1", "ON", "YES", "TRUE", "Y")


def regex_alternation(values):
    """ctest regex lists (any one matching counts) as one grep -E expression."""
    if not values:
        return ""
    values = values if isinstance(values, list) else [values]
    return "|".join(f"({v})" for v in values)


def apply_ctest_env(env, props):
    """Applies the ENVIRONMENT and ENVIRONMENT_MODIFICATION test properties like ctest."""
    for item in props.get("ENVIRONMENT", []) or []:
        key, _, value = item.partition("=")
        env[key] = value
    for item in props.get("ENVIRONMENT_MODIFICATION", []) or []:
        key, _, rest = item.partition("=")
        op, _, value = rest.partition(":")
        cur = env.get(key)
        if op == "reset":
            if key in GUEST_BASE_ENV:
                env[key] = GUEST_BASE_ENV[key]
            else:
                env.pop(key, None)
        elif op == "set":
            env[key] = value
        elif op == "unset":
            env.pop(key, None)
        elif op == "string_append":
            env[key] = (cur or "") + value
        elif op == "string_prepend":
            env[key] = value + (cur or "")
        elif op in ("path_list_append", "cmake_list_append"):
            sep = ":" if op.startswith("path") else ";"
            env[key] = f"{cur}{sep}{value}" if cur else value
        elif op in ("path_list_prepend", "cmake_list_prepend"):
            sep = ":" if op.startswith("path") else ";"
            env[key] = f"{value}{sep}{cur}" if cur else value
    return env


def injected_failure_test():
    """The deliberately failing test added by FINESSE_VM_INJECT_FAILURE=1 / --inject-failure."""
    return GuestTest(
        name="vm.injected-failure",
        argv=["/bin/sh", "-c",
              "echo 'FINESSE_VM_INJECT_FAILURE=1: this test fails on purpose'; exit 1"],
        cwd="/", env=dict(GUEST_BASE_ENV), timeout=60)


# Sources of the self-test probe (compiled on the host if a C compiler is present).
PROBE_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* probe bpf                      create a BPF array map as the current user
   probe bpf-tracepoint           attach a trivial BPF program to syscalls/sys_enter_openat
   probe fuse-mount DIR           mount a FUSE connection on DIR via /dev/fuse, then detach
   probe runas UID GID CMD...     drop to UID/GID (no groups) and exec CMD */
int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "bpf")) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY; a.key_size = 4; a.value_size = 8; a.max_entries = 4;
    int fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    if (fd < 0) { perror("bpf(BPF_MAP_CREATE)"); return 1; }
    printf("bpf map fd %d\n", fd);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "bpf-tracepoint")) {
    struct bpf_insn prog[] = {
      { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },  /* r0 = 0 */
      { .code = BPF_JMP | BPF_EXIT },                                           /* exit   */
    };
    static char license[] = "GPL", logbuf[4096];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT; a.insn_cnt = 2;
    a.insns = (unsigned long)prog; a.license = (unsigned long)license;
    a.log_buf = (unsigned long)logbuf; a.log_size = sizeof logbuf; a.log_level = 1;
    int pfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (pfd < 0) { perror("bpf(BPF_PROG_LOAD)"); fputs(logbuf, stderr); return 1; }
    FILE *f = fopen("/sys/kernel/tracing/events/syscalls/sys_enter_openat/id", "r");
    int id = -1;
    if (!f || fscanf(f, "%d", &id) != 1) { perror("tracepoint id"); return 1; }
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_TRACEPOINT; pe.size = sizeof pe; pe.config = id; pe.sample_period = 1;
    int efd = syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0);
    if (efd < 0) { perror("perf_event_open"); return 1; }
    if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, pfd)) { perror("PERF_EVENT_IOC_SET_BPF"); return 1; }
    printf("BPF program attached to syscalls/sys_enter_openat (tracepoint id %d)\n", id);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "fuse-mount")) {
    int fd = open("/dev/fuse", O_RDWR);
    if (fd < 0) { perror("open /dev/fuse"); return 1; }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
    mkdir(argv[2], 0755);
    if (mount("probe", argv[2], "fuse", MS_NOSUID | MS_NODEV, opts)) { perror("mount fuse"); return 1; }
    printf("mounted fuse on %s\n", argv[2]);
    if (umount2(argv[2], MNT_DETACH)) { perror("umount2"); return 1; }
    return 0;
  }
  if (argc >= 5 && !strcmp(argv[1], "runas")) {
    gid_t gid = (gid_t)atoi(argv[3]);
    if (setgroups(0, NULL) || setgid(gid) || setuid((uid_t)atoi(argv[2]))) { perror("drop"); return 1; }
    execvp(argv[4], argv + 4);
    perror("execvp");
    return 127;
  }
  fprintf(stderr, "usage: probe bpf | bpf-tracepoint | fuse-mount DIR | runas UID GID CMD...\n");
  return 2;
}
"""

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
    with open(src, "w") as f:
        f.write(PROBE_C)
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


# --------------------------------------------------------------------------------------------
# Guest scripts
# --------------------------------------------------------------------------------------------

INIT_SCRIPT = r"""#!/bin/busybox sh
# Finesse VM-test guest init (generated by vm-tests/run.py). Runs as PID 1.
bb=/bin/busybox
export PATH=@PATH@
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
"""

RUNNER_SCRIPT = r"""# Finesse VM-test runner (generated by vm-tests/run.py), sourced by /init.
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
run_phase /finesse/phase-parallel.list @JOBS@
run_phase /finesse/phase-serial.list 1
run_phase /finesse/phase-cleanup.list 1
passed=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^PASS$')
failed=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^FAIL$')
skipped=$($bb cat $R/*.result 2>/dev/null | $bb grep -c '^SKIP$')
echo "FINESSE-VM-RESULT kernel=$($bb uname -r) passed=$passed failed=$failed skipped=$skipped"
"""

PHASES = ("setup", "parallel", "serial", "cleanup")


def test_script(test):
    """The per-test shell script: cd to the working directory, exec with exactly its env."""
    env = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(test.env.items()))
    argv = " ".join(shlex.quote(a) for a in test.argv)
    return (f"cd {shlex.quote(test.cwd)} || exit 127\n"
            f"exec /bin/busybox env -i {env} {argv}\n")


def test_meta(test):
    """Shell assignments the guest runner sources before running one test."""
    values = {"name": test.name, "tmo": str(test.timeout),
              "will_fail": "1" if test.will_fail else "0", "skip_rc": test.skip_rc,
              "skip_re": test.skip_re, "pass_re": test.pass_re, "fail_re": test.fail_re,
              "disabled": "1" if test.disabled else "0"}
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def add_runner(img, tests, jobs):
    """The runner, one .sh and .meta per test, and the phase lists (setup fixtures first,
    then the parallel bulk, RUN_SERIAL/RESOURCE_LOCK tests alone, cleanup fixtures last)."""
    img.add_bytes("finesse/runner.sh", RUNNER_SCRIPT.replace("@JOBS@", str(jobs)), 0o644)
    lists = {phase: [] for phase in PHASES}
    for i, t in enumerate(tests):
        img.add_bytes(f"finesse/tests/{i}.sh", test_script(t), 0o755)
        img.add_bytes(f"finesse/tests/{i}.meta", test_meta(t), 0o644)
        lists[t.phase].append(f"{i}\n")
    for phase, items in lists.items():
        img.add_bytes(f"finesse/phase-{phase}.list", "".join(items), 0o644)


# --------------------------------------------------------------------------------------------
# Assembling the guest image
# --------------------------------------------------------------------------------------------

# Parts of a host tree the tests never need (keeps the initramfs small).
TREE_SKIP = {"__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip",
             "lib2to3", "pydoc_data", "distutils", "unittest", "venv"}


def add_host_tree(img, top):
    """Mirrors host directory `top` (files and symlinks) at the same guest path."""
    img.add_host_path(top)
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in TREE_SKIP and not d.startswith("config-")]
        for d in dirs:
            full = os.path.join(root, d)
            if os.path.islink(full):
                img.add_symlink(full, os.readlink(full))
            else:
                img.add_dir(full)
        for f in files:
            full = os.path.join(root, f)
            if os.path.islink(full):
                img.add_symlink(full, os.readlink(full))
            elif os.path.isfile(full):
                img.add_file(full, full)


def add_base_system(img, host_tools):
    """busybox (with its applet links), /etc files, mount points and the host tools."""
    busybox = os.path.realpath(shutil.which("busybox") or "/bin/busybox")
    if not is_elf(busybox) or run(["ldd", busybox]).returncode == 0:
        raise VmTestError("a static busybox is needed (apt-get install busybox-static)")
    # Merged /usr like the host, so absolute paths such as /bin/sh and /lib64/ld-*.so resolve.
    for d in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink(f"/{d}"):
            img.add_symlink(d, os.readlink(f"/{d}"))
    img.add_file("bin/busybox", busybox, 0o755)
    for d in ("proc", "sys", "dev", "tmp", "run", "mnt", "root", "var/tmp", "etc",
              "sys/fs/bpf", "sys/kernel/tracing", "sys/kernel/debug"):
        img.add_dir(d, 0o1777 if d.endswith("tmp") else 0o755)
    img.add_chardev("dev/console", 5, 1)
    img.add_chardev("dev/null", 1, 3, 0o666)
    img.add_bytes("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    img.add_bytes("etc/group", "root:x:0:\nnogroup:x:65534:\n")
    img.add_bytes("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n")
    img.add_bytes("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")
    img.add_symlink("etc/mtab", "../proc/self/mounts")  # libfuse then never runs /bin/mount
    if os.path.exists("/etc/fuse.conf"):  # same FUSE policy (user_allow_other) as the host
        img.add_file("etc/fuse.conf", "/etc/fuse.conf", 0o644)
    elfs = []
    for tool in host_tools:
        if tool.startswith("/") and os.path.isdir(tool):
            add_host_tree(img, tool)  # e.g. an interpreter's standard library
            continue
        path = tool if tool.startswith("/") and os.path.exists(tool) else shutil.which(tool)
        if path:
            img.add_host_path(path)
            elfs.append(os.path.realpath(path))
        else:
            log(f"note: host tool {tool!r} not installed; not in the guest")
    # Busybox applets for everything the host tools did not provide.
    applets = run([busybox, "--list-full"]).stdout.split()
    for applet in applets:
        if not img.has(applet):
            img.add_symlink(applet, "/bin/busybox")
    if not img.has("bin/sh"):
        img.add_symlink("bin/sh", "/bin/busybox")
    return elfs


def add_build_tree(img, build_dir, stripdir, strip):
    """The build tree at its host path, minus object files; ELF files debug-stripped."""
    elfs = []
    img.add_host_path(build_dir)
    real = os.path.realpath(build_dir)
    objcopy = shutil.which("objcopy") if strip else None
    for root, dirs, files in os.walk(real):
        dirs[:] = [d for d in dirs if d not in SKIP_BUILD_DIRS]
        img.add_dir(root)
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(SKIP_BUILD_SUFFIXES):
                continue
            if os.path.islink(path):
                img.add_symlink(path, os.readlink(path))
                continue
            src = path
            if is_elf(path):
                elfs.append(path)
                if objcopy and not name.endswith(".bpf.o"):
                    dst = os.path.join(stripdir, f"{len(elfs)}-{name}")
                    if run([objcopy, "--strip-debug", path, dst]).returncode == 0:
                        os.chmod(dst, os.stat(path).st_mode & 0o7777)
                        src = dst
            img.add_file(path, src, os.stat(path).st_mode & 0o7777)
    return elfs


def add_test_commands(img, tests):
    """Executables and existing file arguments of the test commands (outside the build tree),
    plus script interpreters."""
    elfs = []
    for t in tests:
        for i, arg in enumerate(t.argv):
            if not arg.startswith("/") or not os.path.isfile(arg):
                continue
            if not img.has(arg):
                img.add_host_path(arg)
            if is_elf(arg):
                elfs.append(os.path.realpath(arg))
            interp = shebang_interpreter(arg) if i == 0 else None
            if interp and os.path.isfile(interp):
                img.add_host_path(interp)
                elfs.append(os.path.realpath(interp))
    return elfs


def add_modules(img, root, release, wanted):
    order = module_load_order(root, release, wanted)
    moddir = os.path.join(root, "lib", "modules", release)
    names = []
    for rel in order:
        name = module_name(rel) + ".ko"
        img.add_bytes(f"finesse/modules/{name}", read_module(os.path.join(moddir, rel)))
        names.append(name)
    img.add_bytes("finesse/modules.order", "".join(n + "\n" for n in names))
    return names


def build_initramfs(out_path, kernel_root, release, cfg, tests, build_dir, extra_files,
                    extra_paths, strip, jobs, scratch_disk):
    """Assembles and writes the guest image; returns (bytes, seconds, module names)."""
    t0 = time.monotonic()
    img = Initramfs()
    with tempfile.TemporaryDirectory(prefix="finesse-vm-strip-") as stripdir:
        elfs = add_base_system(img, cfg["guest"].get("tools", []))
        if build_dir:
            elfs += add_build_tree(img, build_dir, stripdir, strip)
        elfs += add_test_commands(img, tests)
        for path in extra_paths:
            img.add_host_path(path)
            if os.path.isfile(path) and is_elf(path):
                elfs.append(path)
        for guest_path, host_path in extra_files:
            img.add_file(guest_path, host_path, 0o755)
            elfs.append(host_path)
        for lib in sorted(shared_libraries(sorted(set(elfs)))):
            if not img.has(lib):
                img.add_host_path(lib)
        wanted = list(cfg["guest"].get("modules", []))
        if scratch_disk:  # /dev/vda for /tmp
            wanted += ["virtio_pci", "virtio_blk"]
            img.add_bytes("finesse/scratch-disk", "")
        modules = add_modules(img, kernel_root, release, wanted)
        img.add_bytes("init", INIT_SCRIPT.replace("@PATH@", GUEST_PATH), 0o755)
        add_runner(img, tests, jobs)
        img.write(out_path)
    return os.path.getsize(out_path), time.monotonic() - t0, modules


# --------------------------------------------------------------------------------------------
# QEMU
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

class KernelResult:
    def __init__(self, name):
        self.name, self.release, self.ok = name, "?", False
        self.passed = self.failed = self.skipped = 0
        self.problems, self.failed_tests, self.skips = [], [], []
        self.boot_secs = self.image_secs = self.image_bytes = 0


def parse_console(lines, expected_tests, result):
    """Fills a KernelResult from the console lines; returns nothing, sets result.ok."""
    per_test, skipcases, marker = {}, [], None
    for line in lines:
        m = TEST_RE.match(line)
        if m:
            per_test[m.group(3)] = (m.group(1), m.group(4))
        m = SKIPCASE_RE.match(line)
        if m:
            skipcases.append((m.group(1), m.group(2)))
        m = RESULT_RE.search(line)
        if m:
            marker = m
        if FATAL_RE.search(line):
            result.problems.append(f"guest kernel error on the console: {line.strip()}")
    if marker is None:
        result.problems.append("no FINESSE-VM-RESULT marker on the console "
                               "(guest hung, panicked or was killed)")
    else:
        result.release = marker.group(1)
        result.passed, result.failed, result.skipped = (int(marker.group(i)) for i in (2, 3, 4))
        total = result.passed + result.failed + result.skipped
        if total != len(expected_tests):
            result.problems.append(f"guest reported {total} tests, expected {len(expected_tests)}")
    result.failed_tests = [n for n, (r, _) in per_test.items() if r == "FAIL"]
    missing = [t.name for t in expected_tests if t.name not in per_test]
    if marker is None and missing:
        result.problems.append(f"{len(missing)} tests never finished, first: {missing[0]}")
    # Skips: (ctest test, gtest case) for every gtest case that skipped, and (test, test) for
    # a skipped test that is not a gtest (skip return code, DISABLED, ...).
    result.skips = list(dict.fromkeys(skipcases))
    result.skips += [(n, n) for n, (r, _) in per_test.items()
                     if r == "SKIP" and not any(t == n for t, _ in skipcases)]
    result.ok = marker is not None and result.failed == 0 and not result.problems


def test_output(lines, name):
    """The console lines between FINESSE-VM-BEGIN and -END of one test."""
    out, inside = [], False
    for line in lines:
        if line == f"FINESSE-VM-BEGIN\t{name}":
            inside, out = True, []
        elif line.startswith(f"FINESSE-VM-END\t{name}\t"):
            inside = False
        elif inside:
            out.append(line)
    return out


def skip_reason(lines, test, case):
    """The text gtest printed between '[ RUN      ] case' and '[  SKIPPED ] case'."""
    out = test_output(lines, test)
    text, inside = [], False
    for line in out:
        if line.startswith(f"[ RUN      ] {case}"):
            inside, text = True, []
        elif line.startswith(f"[  SKIPPED ] {case}"):
            break
        elif inside:
            text.append(line.strip())
    reason = " ".join(t for t in text if t and not re.match(r"^\S+:\d+: Skipped$", t))
    return reason or "(no message)"


def documented_skips():
    """Regexes from the 'Skips' section of vm-tests/README.md: bullets '- `REGEX` reason'."""
    patterns, in_section = [], False
    if not os.path.exists(README):
        return patterns
    with open(README) as f:
        for line in f:
            if line.startswith("## "):
                in_section = line.strip().lower().startswith("## skips")
                continue
            m = re.match(r"^\s*[-*] `([^`]+)`\s*[-:—–]*\s*(\S.*)$", line) if in_section else None
            if m:
                patterns.append(re.compile(m.group(1)))
    return patterns


def check_skips(result, lines, allowed):
    """Prints every skip with gtest's reason; an undocumented skip is a problem."""
    for test, case in result.skips:
        reason = skip_reason(lines, test, case)
        documented = any(p.fullmatch(case) or p.fullmatch(test) for p in allowed)
        print(f"  skipped: {case}" + (f" (in {test})" if case != test else "")
              + f": {reason}" + ("" if documented else "  [NOT DOCUMENTED in vm-tests/README.md]"))
        if not documented:
            result.problems.append(f"skip of {case} is not listed under 'Skips' in "
                                   "vm-tests/README.md (add it with the reason)")
    if result.problems:
        result.ok = False


def documented_known_failures(kernel_name):
    """Regexes from the 'Known failures' section of vm-tests/README.md for this kernel:
    bullets '- `KERNEL` `REGEX` reason' (KERNEL as in kernels.json, or *)."""
    patterns, in_section = [], False
    if not os.path.exists(README):
        return patterns
    with open(README) as f:
        for line in f:
            if line.startswith("## "):
                in_section = line.strip().lower().startswith("## known failures")
                continue
            m = re.match(r"^\s*[-*] `([^`]+)` `([^`]+)`\s*[-:—–]*\s*(\S.*)$", line) \
                if in_section else None
            if m and m.group(1) in (kernel_name, "*"):
                patterns.append(re.compile(m.group(2)))
    return patterns


def check_known_failures(result, kernel_name):
    """A failure documented (with its reason) under 'Known failures' for this kernel is
    reported but does not fail the run; every other failure does."""
    known = documented_known_failures(kernel_name)
    if not known or not result.failed_tests:
        return
    unknown = [n for n in result.failed_tests if not any(p.fullmatch(n) for p in known)]
    for name in result.failed_tests:
        if name not in unknown:
            print(f"  known failure on {kernel_name} (vm-tests/README.md): {name}")
    if not unknown and not result.problems and result.release:
        result.ok = True


# --------------------------------------------------------------------------------------------
# One kernel, end to end
# --------------------------------------------------------------------------------------------

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
    for name in result.failed_tests:
        out = test_output(lines, name)
        print(f"  ---- output of failed test {name} (last 40 of {len(out)} lines) ----")
        for line in out[-40:]:
            print(f"  | {line}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    if not result.ok:
        print(f"  console log: {log_path}")
    print(f"  [{kernel['name']}] kernel={result.release} passed={result.passed} "
          f"failed={result.failed} skipped={result.skipped} ({boot_secs:.0f}s in the VM) "
          f"{'OK' if result.ok else 'FAILED'}", flush=True)
    return result


# --------------------------------------------------------------------------------------------
# Re-pinning
# --------------------------------------------------------------------------------------------

def compare_debian_versions(a, b):
    if a == b:
        return 0
    return -1 if run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0 else 1


def available_versions(pkg):
    """[(version, suite)] of a package in the local apt lists (apt-cache madison)."""
    out = []
    for line in run(["apt-cache", "madison", pkg]).stdout.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and parts[0] == pkg:
            suite = parts[2].split()[1] if len(parts[2].split()) > 1 else parts[2]
            out.append((parts[1], suite))
    return out


def repin(cfg, cache, prefer_main):
    """Rewrites kernels.json with the newest package of each series (from bookworm/main
    when one exists there, unless prefer_main is False) and its verified sha256."""
    apt_update_once()
    for kernel in cfg["kernels"]:
        pattern = re.compile(kernel["package_pattern"])
        names = [n for n in run(["apt-cache", "pkgnames", kernel["package_prefix"]]).stdout.split()
                 if pattern.match(n)]
        candidates = [(v, s, n) for n in names for v, s in available_versions(n)]
        if not candidates:
            raise VmTestError(f"no package matching {kernel['package_pattern']} in the apt lists")
        main = [c for c in candidates if "security" not in c[1] and "updates" not in c[1]]
        pool = main if (prefer_main and main) else candidates
        version, suite, pkg = max(pool, key=functools.cmp_to_key(
            lambda x, y: compare_debian_versions(x[0], y[0])))
        show = run(["apt-cache", "show", f"{pkg}={version}"]).stdout
        m = re.search(r"^SHA256: (\w+)", show, re.M)
        if not m:
            raise VmTestError(f"apt-cache show {pkg}={version} gives no SHA256")
        old = (kernel["package"], kernel["version"])
        kernel.update(package=pkg, version=version, sha256=m.group(1), suite=suite)
        fetch_kernel_deb(kernel, cache)  # downloads and checks the archive's sha256
        log(f"{kernel['name']}: {old[0]} {old[1]} -> {pkg} {version} ({suite})")
    with open(KERNELS_JSON, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    log(f"rewrote {KERNELS_JSON}; run the VM tests, update README.md's kernel table, commit")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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


def select_kernels(cfg, wanted):
    if not wanted:
        return cfg["kernels"]
    chosen = [k for k in cfg["kernels"]
              if k["name"] in wanted or k["package"] in wanted or k["series"] in wanted]
    if not chosen:
        names = ", ".join(k["name"] for k in cfg["kernels"])
        raise VmTestError(f"no kernel named {wanted} in kernels.json (have: {names})")
    return chosen


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


def main(argv):
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
    total = time.monotonic() - t_start
    print("\nvm-test summary:")
    for r in results:
        print(f"  {r.name:<12} kernel={r.release:<28} passed={r.passed:<4} failed={r.failed:<4} "
              f"skipped={r.skipped:<4} vm={r.boot_secs:5.0f}s  {'OK' if r.ok else 'FAILED'}")
    print(f"  total {total:.0f}s")
    ok = len(results) == len(kernels) and all(r.ok for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except VmTestError as e:
        print(f"vm-test: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
