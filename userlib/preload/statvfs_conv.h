// statvfs answers made from statfs ones, as glibc makes them
// (sysdeps/unix/sysv/linux/internal_statvfs.c).
#pragma once

#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

namespace finesse::shim {

// The kernel marks statfs.f_flags as meaningful with this bit; statvfs drops it.
constexpr unsigned long kStValid = 0x0020;

template <typename Vfs>
void to_statvfs(const struct statfs &s, Vfs *v) {
  memset(v, 0, sizeof(*v));
  v->f_bsize = static_cast<unsigned long>(s.f_bsize);
  v->f_frsize = static_cast<unsigned long>(s.f_frsize ? s.f_frsize : s.f_bsize);
  v->f_blocks = s.f_blocks;
  v->f_bfree = s.f_bfree;
  v->f_bavail = s.f_bavail;
  v->f_files = s.f_files;
  v->f_ffree = s.f_ffree;
  v->f_favail = s.f_ffree;
  unsigned long fsid;
  memcpy(&fsid, &s.f_fsid, sizeof(fsid));
  v->f_fsid = fsid;
  v->f_namemax = static_cast<unsigned long>(s.f_namelen);
  v->f_flag = static_cast<unsigned long>(s.f_flags) ^ kStValid;
}

}  // namespace finesse::shim
