"""The guest image: what goes into the initramfs (busybox and /etc, the host tools, the build
tree, the test commands, their shared libraries, the kernel modules) and the guest's scripts:
guest_init.sh as /init, guest_runner.sh as /finesse/runner.sh, the values they need in
/finesse/guest.conf, and one script and rule file per test."""

import os
import shlex
import shutil
import tempfile
import time

from .common import VmTestError, log, run
from .ctest_plan import GUEST_PATH
from .debs import module_load_order, module_name, read_module
from .initramfs import Initramfs, is_elf, shared_libraries, shebang_interpreter

# Build-tree content that is never needed at run time.
SKIP_BUILD_DIRS = {"CMakeFiles", "Testing", "vm-tests", ".cmake"}
SKIP_BUILD_SUFFIXES = (".o", ".obj", ".a", ".gch", ".pch", ".d")

# The guest's shell scripts, files next to this module, copied into the image as they are.
SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
INIT_SCRIPT = os.path.join(SCRIPT_DIR, "guest_init.sh")      # -> /init
RUNNER_SCRIPT = os.path.join(SCRIPT_DIR, "guest_runner.sh")  # -> /finesse/runner.sh


# --------------------------------------------------------------------------------------------
# Guest scripts
# --------------------------------------------------------------------------------------------

def read_script(path):
    with open(path, "rb") as f:
        return f.read()


def guest_conf(jobs):
    """/finesse/guest.conf, sourced by /init before anything else: the host-side values of
    the guest scripts (shell assignments, not exported)."""
    values = {"FINESSE_VM_PATH": GUEST_PATH,  # /init exports it as PATH
              "FINESSE_VM_JOBS": str(jobs)}   # tests at once in the runner's parallel phase
    return ("# Values for /init and /finesse/runner.sh, written by vm-tests/finesse_vm/guest.py.\n"
            + "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))


def add_init(img, jobs):
    """/init, the runner it sources, and the values both read."""
    img.add_bytes("init", read_script(INIT_SCRIPT), 0o755)
    img.add_bytes("finesse/runner.sh", read_script(RUNNER_SCRIPT), 0o644)
    img.add_bytes("finesse/guest.conf", guest_conf(jobs), 0o644)


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


def add_tests(img, tests):
    """One .sh and .meta per test, and the phase lists (setup fixtures first, then the
    parallel bulk, RUN_SERIAL/RESOURCE_LOCK tests alone, cleanup fixtures last)."""
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
        add_init(img, jobs)
        add_tests(img, tests)
        img.write(out_path)
    return os.path.getsize(out_path), time.monotonic() - t0, modules
