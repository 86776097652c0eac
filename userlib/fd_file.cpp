#include "fd_file.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuse_node.h"
#include "kernel_facts.h"
#include "resolve.h"

namespace finesse::client {

size_t fd_path(int fd, char *out, size_t cap) {
  if (fd < 0 || cap < 2) return 0;
  char link[32] = "/proc/self/fd/";
  size_t at = 14;
  char digits[12];
  size_t nd = 0;
  for (unsigned v = static_cast<unsigned>(fd); nd == 0 || v != 0; v /= 10)
    digits[nd++] = static_cast<char>('0' + v % 10);
  while (nd > 0) link[at++] = digits[--nd];
  link[at] = '\0';
  long n = syscall(SYS_readlink, link, out, cap - 1);
  if (n <= 0 || out[0] != '/') return 0;
  out[n] = '\0';
  return static_cast<size_t>(n);
}

bool fd_fuse_node(int fd, uint64_t *node, uint64_t *mnt_id) {
  return fuse_node_of(fd, "", AT_EMPTY_PATH, node, mnt_id);
}

bool fd_allows(int fd, FdUse use) {
  if (use == FdUse::kAny) return true;
  long fl = syscall(SYS_fcntl, fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH)) return false;
  long acc = fl & O_ACCMODE;
  return use != FdUse::kWritable || acc == O_WRONLY || acc == O_RDWR;
}

bool fd_file(int fd, char *buf, size_t cap, KnownFile *out) {
  FdFact f;
  if (!fd_fact(fd, &f) || fd_path(fd, buf, cap) == 0) return false;
  MountMatch m;
  if (!classify_absolute(buf, &m) || m.mnt_id != f.mnt_id) return false;
  *out = KnownFile{buf, f.ino, f.mnt_id};
  return true;
}

}  // namespace finesse::client
