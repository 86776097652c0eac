#!/usr/bin/env bash
# Installs the Debian packages that Finesse's build, tests, benchmarks and VM tests need.
# Idempotent and quiet when everything is present; runs `apt-get update` once when not.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  clang llvm libclang-rt-14-dev
  libfuse3-dev fuse3
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 attr acl tar findutils coreutils procps util-linux psmisc
  gnuplot-nox
  # vm tests
  qemu-system-x86 busybox-static cpio kmod xz-utils zstd e2fsprogs binutils
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages (${missing[*]}); run as root: sudo $0" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
