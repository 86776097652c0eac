"""--repin: rewrite kernels.json with the newest package of each kernel series."""

import functools
import json
import re

from .common import VmTestError, log, run
from .config import KERNELS_JSON
from .debs import apt_update_once, fetch_kernel_deb


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
