#include "resolve.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace finesse::client {

namespace {

// The current absolute path of dirfd (or the cwd) into out; false if unknown.
bool base_path(int dirfd, char *out, size_t cap) {
  if (dirfd == AT_FDCWD) {
    long n = syscall(SYS_getcwd, out, cap);
    return n > 0 && out[0] == '/';
  }
  if (dirfd < 0) return false;
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
  ssize_t n = readlink(link, out, cap - 1);
  if (n <= 0 || out[0] != '/') return false;
  out[n] = '\0';
  return true;
}

}  // namespace

bool resolve_target(int dirfd, const char *path, Target *t) {
  if (path == nullptr || path[0] == '\0') return false;
  size_t plen = strnlen(path, wire::kPathMax);
  if (plen >= wire::kPathMax) return false;  // the kernel says ENAMETOOLONG
  const char *full = path;
  if (path[0] != '/') {
    if (!base_path(dirfd, t->buf, wire::kPathMax)) return false;
    size_t blen = strlen(t->buf);
    if (blen + 1 + plen >= sizeof(t->buf)) return false;
    if (blen > 1) t->buf[blen++] = '/';
    memcpy(t->buf + blen, path, plen + 1);
    full = t->buf;
  }
  if (!classify_absolute(full, &t->m)) return false;
  const char *rel = full + t->m.prefix_len;
  while (*rel == '/') rel++;
  t->rel = rel;
  t->rel_len = strlen(rel);
  // A path that is too long as a whole is the kernel's to refuse.
  return t->rel_len < wire::kPathMax;
}

}  // namespace finesse::client
