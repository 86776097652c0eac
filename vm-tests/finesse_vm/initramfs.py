"""The guest's root as a newc cpio (written here, uncompressed), and the ELF / shebang /
ldd helpers that decide which host files it needs."""

import os
import re
import shutil

from .common import log, run


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
