// A test file system whose symlinks have targets no local file system can store: readlink
// answers with a target of kLongTarget bytes ("long"), of one byte below a page ("edge") and
// of exactly a page ("page"). The kernel takes at most PAGE_SIZE - 1 bytes of a readlink
// reply (fs/fuse/dir.c fuse_readlink_page): the bypass must answer as it does.
// Also: a regular file "file" (open, read, write, truncate), with the kernel's writeback
// cache when FINESSE_TEST_WRITEBACK=1; the symlinks report st_blksize 6000 (not a power of
// two: the kernel rounds it down), the root directory 0 (the kernel: the block size of the
// super block).
// Usage (as the harness runs the sample file systems): finesse-longlink-test MNT -f [-o ...]
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>

namespace {

constexpr size_t kLongTarget = 5000;

struct Link {
  const char *name;
  fuse_ino_t ino;
  std::string target;
};

Link *links() {
  static Link l[] = {
      {"long", 2, std::string(kLongTarget, 'l')},
      {"edge", 3, std::string(static_cast<size_t>(sysconf(_SC_PAGESIZE)) - 1, 'e')},
      {"page", 4, std::string(static_cast<size_t>(sysconf(_SC_PAGESIZE)), 'p')},
  };
  return l;
}
constexpr int kLinks = 3;
constexpr fuse_ino_t kFileIno = 2 + kLinks;

std::mutex g_mu;
std::string g_data;  // the regular file's contents

void fill(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_nlink = 1;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return;
  }
  if (ino == kFileIno) {
    std::lock_guard<std::mutex> g(g_mu);
    st->st_mode = S_IFREG | 0666;
    st->st_size = static_cast<off_t>(g_data.size());
    st->st_blksize = 4096;
    return;
  }
  st->st_mode = S_IFLNK | 0777;
  st->st_size = static_cast<off_t>(links()[ino - 2].target.size());
  st->st_blksize = 6000;
}

bool known(fuse_ino_t ino) {
  return ino == FUSE_ROOT_ID || (ino >= 2 && ino <= kFileIno);
}

void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (parent != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
  for (int i = 0; i <= kLinks; i++) {
    if (strcmp(name, i < kLinks ? links()[i].name : "file") != 0) continue;
    fuse_entry_param e{};
    e.ino = i < kLinks ? links()[i].ino : kFileIno;
    fill(e.ino, &e.attr);
    return (void)fuse_reply_entry(req, &e);  // timeouts 0: the kernel asks every time
  }
  fuse_reply_err(req, ENOENT);
}

void ll_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *) {
  if (!known(ino)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, 0);
}

void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *in, int to_set, fuse_file_info *) {
  if (!known(ino)) return (void)fuse_reply_err(req, ENOENT);
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (ino != kFileIno) return (void)fuse_reply_err(req, EINVAL);
    std::lock_guard<std::mutex> g(g_mu);
    g_data.resize(static_cast<size_t>(in->st_size));
  }
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, 0);
}

void ll_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  if (ino != kFileIno) return (void)fuse_reply_err(req, EISDIR);
  fuse_reply_open(req, fi);
}

void ll_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info *) {
  std::lock_guard<std::mutex> g(g_mu);
  size_t from = std::min(static_cast<size_t>(off), g_data.size());
  fuse_reply_buf(req, g_data.data() + from, std::min(size, g_data.size() - from));
}

void ll_write(fuse_req_t req, fuse_ino_t, const char *buf, size_t size, off_t off,
              fuse_file_info *) {
  std::lock_guard<std::mutex> g(g_mu);
  size_t end = static_cast<size_t>(off) + size;
  if (g_data.size() < end) g_data.resize(end);
  memcpy(&g_data[static_cast<size_t>(off)], buf, size);
  fuse_reply_write(req, size);
}

void ll_init(void *, fuse_conn_info *conn) {
  const char *wb = getenv("FINESSE_TEST_WRITEBACK");
  if (wb != nullptr && strcmp(wb, "1") == 0) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
}

void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
  if (ino < 2 || ino >= 2 + kLinks) return (void)fuse_reply_err(req, EINVAL);
  fuse_reply_readlink(req, links()[ino - 2].target.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  fuse_args args = FUSE_ARGS_INIT(argc, argv);
  fuse_cmdline_opts opts{};
  if (fuse_parse_cmdline(&args, &opts) != 0 || opts.mountpoint == nullptr) {
    fprintf(stderr, "usage: %s MOUNTPOINT -f [-o options]\n", argv[0]);
    return 2;
  }
  fuse_lowlevel_ops ops{};
  ops.lookup = ll_lookup;
  ops.getattr = ll_getattr;
  ops.readlink = ll_readlink;
  ops.init = ll_init;
  ops.setattr = ll_setattr;
  ops.open = ll_open;
  ops.read = ll_read;
  ops.write = ll_write;
  int rc = 1;
  fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
  if (se != nullptr) {
    if (fuse_set_signal_handlers(se) == 0) {
      if (fuse_session_mount(se, opts.mountpoint) == 0) {
        rc = fuse_session_loop(se) != 0;
        fuse_session_unmount(se);
      }
      fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
  }
  free(opts.mountpoint);
  fuse_opt_free_args(&args);
  return rc;
}
