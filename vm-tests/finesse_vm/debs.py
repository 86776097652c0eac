"""Kernel packages: apt download, sha256 check, dpkg unpack (plus depmod), and what the
unpacked tree holds (release, vmlinuz, config, modules in load order)."""

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile

from .common import VmTestError, log, run


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
