#include "fd_table.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "base_record.h"
#include "channel.h"
#include "cwd_cache.h"
#include "fd_file.h"
#include "kernel_facts.h"
#include "registry_cache.h"
#include "scratch.h"
#include "shim.h"
#include "wire.h"

namespace finesse::shim::fd_table {

namespace {

// 512 bytes per fd: 32 MiB of address space, only touched pages cost memory.
struct Entry : BaseRecord<512 - 40> {
  // epoch + 1 when the kernel's facts said this fd is on no attached mount: not asked
  // again until the number changes meaning.
  std::atomic<uint32_t> no_fact;
};
static_assert(sizeof(Entry) <= 512);

std::atomic<Entry *> g_table{nullptr};

Entry *table_or_null() {
  return g_table.load(std::memory_order_acquire);
}

Entry *table_or_create() {
  Entry *t = table_or_null();
  if (t != nullptr) return t;
  void *p = mmap(nullptr, sizeof(Entry) * kMaxFds, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  Entry *expected = nullptr;
  if (!g_table.compare_exchange_strong(expected, static_cast<Entry *>(p))) {
    munmap(p, sizeof(Entry) * kMaxFds);
    return expected;
  }
  return static_cast<Entry *>(p);
}

bool in_range(int fd) {
  return fd >= 0 && fd < kMaxFds;
}

// Drops trailing slashes (but keeps "/"): the server verifies a base ending on a component.
size_t trimmed_len(const char *p, size_t n) {
  while (n > 1 && p[n - 1] == '/') n--;
  return n;
}

// The absolute path of (dirfd, path) in the thread's scratch (*full, *n bytes) and the
// attached mount it lies on; false if the base is unknown or it is on none (the common case).
bool on_mount(int dirfd, const char *path, char **full, size_t *n, client::MountMatch *m) {
  if (path == nullptr || path[0] == '\0' || disabled()) return false;
  client::Scratch *w = client::thread_scratch();  // not on a stack that may be small
  if (w == nullptr) return false;
  *full = w->path;
  size_t plen = strnlen(path, wire::kPathMax);
  if (plen >= wire::kPathMax) return false;
  if (path[0] == '/') {
    memcpy(*full, path, plen + 1);
    *n = plen;
  } else {
    uint64_t ino, mnt;
    bool known = dirfd == AT_FDCWD ? cwd_cache::base(*full, wire::kPathMax, &ino, &mnt)
                                   : base(dirfd, *full, wire::kPathMax, &ino, &mnt);
    if (!known) return false;
    *n = strlen(*full);
    if (*n > 1) (*full)[(*n)++] = '/';
    if (*n + plen >= wire::kPathMax) return false;
    memcpy(*full + *n, path, plen + 1);
    *n += plen;
  }
  return client::classify_absolute(*full, m);
}

}  // namespace

bool expect_listing(int dirfd, const char *path) {
  char *full;
  size_t n;
  client::MountMatch m;
  if (!on_mount(dirfd, path, &full, &n, &m)) return false;
  client::channel_expect_call(m);
  return true;
}

void note_open(int dirfd, const char *path, int fd) {
  // Whatever we knew about this number is void (also if it was closed behind our back).
  invalidate(fd);
  char *full;
  size_t n;
  client::MountMatch m;
  if (!in_range(fd) || !on_mount(dirfd, path, &full, &n, &m)) return;
  Entry *t = table_or_create();
  if (t == nullptr || !in_owner_process()) return;
  Entry &e = t[fd];
  uint32_t epoch = e.epoch.load(std::memory_order_acquire);
  // The kernel's facts about the open file: cached attributes are enough (type, inode and
  // mount never change), so no FUSE round trip.
  struct statx stx;
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
              STATX_TYPE | STATX_INO | STATX_MNT_ID, &stx) != 0)
    return;
  if (!(stx.stx_mask & STATX_MNT_ID) || !S_ISDIR(stx.stx_mode) || stx.stx_mnt_id != m.mnt_id)
    return;
  e.write(epoch, full, trimmed_len(full, n), stx.stx_ino, stx.stx_mnt_id);
}

void invalidate(int fd) {
  Entry *t = table_or_null();
  if (t != nullptr && in_range(fd)) t[fd].invalidate();
}

void invalidate_range(unsigned first, unsigned last) {
  Entry *t = table_or_null();
  if (t == nullptr) return;
  for (unsigned fd = first; fd <= last && fd < static_cast<unsigned>(kMaxFds); fd++)
    t[fd].invalidate();
}

void note_dup(int oldfd, int newfd) {
  invalidate(newfd);
  Entry *t = table_or_null();
  if (t == nullptr || !in_range(oldfd) || !in_range(newfd) || !in_owner_process()) return;
  char path[sizeof(Entry::path)];
  uint64_t ino, mnt;
  uint32_t epoch = t[newfd].epoch.load(std::memory_order_acquire);
  if (!t[oldfd].read(path, sizeof(path), &ino, &mnt)) return;
  t[newfd].write(epoch, path, strlen(path), ino, mnt);
}

bool base(int fd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id) {
  Entry *t = table_or_null();
  if (t == nullptr || !in_range(fd)) return false;
  return t[fd].read(out, cap, ino, mnt_id);
}

bool known_or_learn(int fd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id) {
  if (base(fd, out, cap, ino, mnt_id)) return true;
  // An fd we did not see opened (inherited, a shell redirection, opened inside libc): the
  // kernel's facts say whether it is on an attached mount; its path costs one readlink,
  // once per fd epoch. The server re-checks the path against the fact's inode.
  Entry *t = table_or_create();
  if (t == nullptr || !in_range(fd) || !in_owner_process()) return false;
  Entry &e = t[fd];
  uint32_t epoch = e.epoch.load(std::memory_order_acquire);
  if (e.no_fact.load(std::memory_order_relaxed) == epoch + 1) return false;
  FdFact f;
  if (!fd_fact(fd, &f)) {
    e.no_fact.store(epoch + 1, std::memory_order_relaxed);
    return false;
  }
  char path[sizeof(Entry::path)];
  size_t n = client::fd_path(fd, path, sizeof(path));
  if (n == 0) return false;
  client::MountMatch m;
  if (!client::classify_absolute(path, &m) || m.mnt_id != f.mnt_id) return false;
  e.write(epoch, path, trimmed_len(path, n), f.ino, f.mnt_id);
  return base(fd, out, cap, ino, mnt_id);
}

bool known_elsewhere(int fd) {
  Entry *t = table_or_null();
  if (t == nullptr || !in_range(fd)) return false;
  const Entry &e = t[fd];
  return e.no_fact.load(std::memory_order_relaxed) == e.epoch.load(std::memory_order_acquire) + 1;
}

void note_elsewhere(int fd) {
  Entry *t = table_or_create();
  if (t == nullptr || !in_range(fd) || !in_owner_process()) return;
  Entry &e = t[fd];
  e.no_fact.store(e.epoch.load(std::memory_order_acquire) + 1, std::memory_order_relaxed);
}

bool file(int fd, char *out, size_t cap, client::KnownFile *f) {
  uint64_t ino, mnt;
  if (!known_or_learn(fd, out, cap, &ino, &mnt)) return false;
  // The fd number may have been reused behind the shim's back (a raw close and open, another
  // thread sharing the table through clone): the kernel's fact for this fd must still name
  // the same file, or the answer could be another file's. One map lookup (~1.3 us).
  FdFact k;
  if (!fd_fact(fd, &k) || k.ino != ino || k.mnt_id != mnt) return false;
  *f = client::KnownFile{out, ino, mnt};
  return true;
}

}  // namespace finesse::shim::fd_table
