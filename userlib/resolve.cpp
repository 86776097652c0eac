#include "resolve.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace finesse::client {

namespace {

BaseProvider g_provider = nullptr;
CwdStaleHook g_cwd_stale = nullptr;

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

void set_base_provider(BaseProvider p) {
  g_provider = p;
}

void set_cwd_stale_hook(CwdStaleHook h) {
  g_cwd_stale = h;
}

void cwd_base_refused() {
  if (g_cwd_stale != nullptr) g_cwd_stale();
}

bool resolve_target(int dirfd, const char *path, Target *t) {
  if (path == nullptr || path[0] == '\0') return false;
  size_t plen = strnlen(path, wire::kPathMax);
  if (plen >= wire::kPathMax) return false;  // the kernel says ENAMETOOLONG
  const char *full = path;
  size_t blen = 0;
  uint64_t base_ino = 0, base_mnt = 0;
  t->verify_len = 0;
  t->verify_ino = 0;
  t->cached_base = false;
  t->cwd_base = false;
  t->base_ino = 0;
  if (path[0] != '/') {
    if (g_provider != nullptr) {
      if (!g_provider(dirfd, t->buf, wire::kPathMax, &base_ino, &base_mnt)) return false;
      t->cached_base = true;
      t->cwd_base = dirfd == AT_FDCWD;
      t->base_ino = base_ino;
    } else if (!base_path(dirfd, t->buf, wire::kPathMax)) {
      return false;
    }
    blen = strlen(t->buf);
    if (blen + 1 + plen >= sizeof(t->buf)) return false;
    size_t at = blen;
    if (at > 1) t->buf[at++] = '/';
    memcpy(t->buf + at, path, plen + 1);
    full = t->buf;
  }
  if (!classify_absolute(full, &t->m)) return false;
  const char *rel = full + t->m.prefix_len;
  while (*rel == '/') rel++;
  t->rel = rel;
  t->rel_len = strlen(rel);
  if (t->cached_base) {
    // The cached base must be on this very mount (not above it, not in a mount below it),
    // and the server checks that its path still leads to the same directory.
    if (base_mnt != t->m.mnt_id || blen < t->m.prefix_len) return false;
    size_t rel_off = static_cast<size_t>(rel - full);
    if (blen > rel_off) t->verify_len = static_cast<uint32_t>(blen - rel_off);
    // The cwd is checked by the server even at the mount root (verify_len 0).
    if (t->verify_len != 0 || t->cwd_base) t->verify_ino = base_ino;
  }
  // A path that is too long as a whole is the kernel's to refuse.
  return t->rel_len < wire::kPathMax;
}

bool base_is_current(int dirfd, const Target &t) {
  struct statx stx;
  if (!t.cached_base || t.base_ino == 0 ||
      syscall(SYS_statx, dirfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID,
              &stx) != 0)
    return false;
  return (stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id == t.m.mnt_id && stx.stx_ino == t.base_ino;
}

}  // namespace finesse::client
