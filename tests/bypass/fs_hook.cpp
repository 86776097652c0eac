// libfinesse_test_fshook.so: preloaded into a sample file system in front of
// libfinesse_fuse.so (tests only), it wraps the file system's ops and its loop the way a file
// system of that kind would be written, to make races likely or visible:
//   FINESSE_HOOK_SLOW_DIR=D   the reply to a kernel or bypass lookup of a name starting with
//                             "slow" leaves only once D/release exists (at most 10 s), after
//                             the file system found the name; D/in-lookup says it is waiting.
//   FINESSE_HOOK_NO_REENTRY=1 lookup and getattr report on stderr when two of them run at
//                             once: a file system that is not thread-safe.
//   FINESSE_HOOK_SLOW_RENAME=N  a rename of the name N waits 5 ms before the file system
//                             renames (a kernel rename has checked its ancestry by then),
//                             and a rename the file system refuses with EINVAL is reported
//                             on stderr: the caller's check that no directory moves below
//                             itself was beaten (the sample file systems check again; one
//                             that relies on the kernel's check, as FUSE lets it, would have
//                             made a cycle).
//   FINESSE_HOOK_SLOW_US=N    every lookup and getattr takes N microseconds longer (storage
//                             that answers slowly, as a network file system's may).
//   FINESSE_HOOK_OWN_LOOP=1   fuse_session_loop runs the file system's own single-threaded
//                             fuse_session_receive_buf/fuse_session_process_buf loop.
#define FUSE_USE_VERSION 34
#include <dlfcn.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>

namespace {

fuse_lowlevel_ops g_ops;      // the file system's own
fuse_lowlevel_ops g_wrapped;  // what the next fuse_session_new gets
thread_local bool t_slow = false;
thread_local bool t_rename = false;
std::atomic<int> g_inside{0};

template <typename Fn>
Fn next(const char *name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

bool env_on(const char *name) {
  const char *v = getenv(name);
  return v != nullptr && *v != '\0' && strcmp(v, "0") != 0;
}

void report(const char *line) {
  ssize_t n = write(2, line, strlen(line));
  (void)n;
}

const char *slow_dir() {
  return getenv("FINESSE_HOOK_SLOW_DIR");
}

class NoReentry {
 public:
  NoReentry() : on_(env_on("FINESSE_HOOK_NO_REENTRY")) {
    if (!on_) return;
    if (g_inside.fetch_add(1) != 0)
      report("fs_hook: two ops at once in a single-threaded file system\n");
    usleep(100);  // a wider window for the other path
  }
  ~NoReentry() {
    if (on_) g_inside.fetch_sub(1);
  }

 private:
  bool on_;
};

void wait_release() {
  std::string dir = slow_dir();
  int fd = open((dir + "/in-lookup").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
  for (int i = 0; i < 10000 && access((dir + "/release").c_str(), F_OK) != 0; i++) usleep(1000);
  unlink((dir + "/in-lookup").c_str());
}

void slow_storage() {
  static const long us = [] {
    const char *v = getenv("FINESSE_HOOK_SLOW_US");
    return v != nullptr ? atol(v) : 0;
  }();
  if (us > 0) usleep(static_cast<useconds_t>(us));
}

void h_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  NoReentry g;
  slow_storage();
  t_slow = slow_dir() != nullptr && strncmp(name, "slow", 4) == 0;
  g_ops.lookup(req, parent, name);
  t_slow = false;
}

void h_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  NoReentry g;
  slow_storage();
  g_ops.getattr(req, ino, fi);
}

void h_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
              const char *newname, unsigned int flags) {
  const char *slow = getenv("FINESSE_HOOK_SLOW_RENAME");
  if (slow != nullptr && strcmp(name, slow) == 0) usleep(5000);
  t_rename = slow != nullptr;
  g_ops.rename(req, parent, name, newparent, newname, flags);
  t_rename = false;
}

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

// libfuse's own definition of a symbol, whatever is interposed in front of it.
template <typename Fn>
Fn in_libfuse(const char *name) {
  static void *libfuse = dlopen("libfuse3.so.3", RTLD_NOLOAD | RTLD_LAZY);
  return libfuse != nullptr ? reinterpret_cast<Fn>(dlsym(libfuse, name)) : nullptr;
}

struct libfuse_version {  // libfuse 3.17's
  uint32_t major, minor, hotfix, padding;
};
using NewVersioned = fuse_session *(*)(fuse_args *, const fuse_lowlevel_ops *, size_t,
                                       libfuse_version *, void *);

// libfuse 3.17's fuse_session_new_versioned for a libfuse without it: made inside libfuse.
fuse_session *emulated_new_versioned(fuse_args *args, const fuse_lowlevel_ops *op, size_t op_size,
                                     libfuse_version *, void *userdata) {
  auto inside = in_libfuse<decltype(&fuse_session_new)>("fuse_session_new");
  return inside != nullptr ? inside(args, op, op_size, userdata) : nullptr;
}

EXPORT fuse_session *fuse_session_new(fuse_args *args, const fuse_lowlevel_ops *op, size_t op_size,
                                      void *userdata) {
  static auto real = next<decltype(&fuse_session_new)>("fuse_session_new");
  if (env_on("FINESSE_HOOK_VERSIONED")) {
    auto versioned = next<NewVersioned>("fuse_session_new_versioned");
    if (versioned == nullptr) versioned = emulated_new_versioned;
    libfuse_version v{3, 17, 0, 0};
    return versioned(args, op, op_size, &v, userdata);
  }
  memset(&g_ops, 0, sizeof g_ops);
  memcpy(&g_ops, op, std::min(op_size, sizeof g_ops));
  g_wrapped = g_ops;
  if (g_ops.lookup) g_wrapped.lookup = h_lookup;
  if (g_ops.getattr) g_wrapped.getattr = h_getattr;
  if (g_ops.rename) g_wrapped.rename = h_rename;
  return real(args, &g_wrapped, sizeof g_wrapped, userdata);
}

// The file system's reply, after its lookup found the name.
EXPORT int fuse_reply_entry(fuse_req_t req, const fuse_entry_param *e) {
  static auto real = env_on("FINESSE_HOOK_DIRECT_REPLIES")
                         ? in_libfuse<decltype(&fuse_reply_entry)>("fuse_reply_entry")
                         : next<decltype(&fuse_reply_entry)>("fuse_reply_entry");
  if (t_slow) {
    t_slow = false;
    wait_release();
  }
  return real(req, e);
}

EXPORT int fuse_reply_err(fuse_req_t req, int err) {
  static auto real = env_on("FINESSE_HOOK_DIRECT_REPLIES")
                         ? in_libfuse<decltype(&fuse_reply_err)>("fuse_reply_err")
                         : next<decltype(&fuse_reply_err)>("fuse_reply_err");
  if (t_rename && err == EINVAL)
    report("fs_hook: a checked rename would move a directory below itself\n");
  return real(req, err);
}

// libfuse's fuse_session_loop, written out by the file system (as libfuse's examples show).
EXPORT int fuse_session_loop(fuse_session *se) {
  static auto real = next<decltype(&fuse_session_loop)>("fuse_session_loop");
  if (!env_on("FINESSE_HOOK_OWN_LOOP")) return real(se);
  fuse_buf buf{};
  int res = 0;
  while (!fuse_session_exited(se)) {
    res = fuse_session_receive_buf(se, &buf);
    if (res == -EINTR) continue;
    if (res <= 0) break;
    fuse_session_process_buf(se, &buf);
  }
  free(buf.mem);
  fuse_session_reset(se);
  return res > 0 ? 0 : res;
}
