// What the kernel shows that the bypass must follow (issue 13): a mount that no longer lies
// at its path (lazy unmount, a mount over it or over an ancestor of its mount point) is not
// served, and a mutation that a watch (inotify) may see goes through the kernel, which raises
// the events. Calls through the explicit API, whose route says whether they were bypassed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

class KernelEvents : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    MountOptions o;
    o.fs = GetParam();
    fs_ = std::make_unique<AttachedFs>(o);
    ASSERT_EQ(::mkdir(fs_->path("d").c_str(), 0755), 0);
    int fd = ::open(fs_->path("d/f").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  std::string p(const std::string &rel) { return fs_->path(rel); }
  std::unique_ptr<AttachedFs> fs_;
};

// Item 13.5: after `umount -l` (the file system kept alive by an open fd, so that its daemon
// keeps serving), the path leads to the empty mount point directory: answers are the kernel's.
TEST_P(KernelEvents, LazilyUnmountedMountIsNotServed) {
  struct stat st;
  ASSERT_EQ(finesse_stat(p("d/f").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  int keep = ::open(p("d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(keep, 0);
  ASSERT_EQ(::umount2(fs_->mnt().c_str(), MNT_DETACH), 0) << strerror(errno);
  errno = 0;
  EXPECT_EQ(finesse_stat(p("d/f").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(finesse_mkdir(p("z").c_str(), 0755), 0) << strerror(errno);
  EXPECT_EQ(::stat(p("z").c_str(), &st), 0) << "mkdir did not happen where the path leads";
  ::rmdir(p("z").c_str());
  errno = 0;
  EXPECT_EQ(finesse_unlink(p("d/f").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  // The detached file system kept its file.
  EXPECT_EQ(::fstatat(keep, "f", &st, 0), 0) << "the bypass removed a file of the detached mount";
  ::close(keep);
}

// A tmpfs over the mount point, then over its parent: what lies there now answers; once
// uncovered, the mount is served again.
TEST_P(KernelEvents, CoveredMountIsNotServed) {
  struct stat st;
  ASSERT_EQ(finesse_stat(p("d/f").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  std::string parent = fs_->mnt().substr(0, fs_->mnt().rfind('/'));
  for (const std::string &over : {fs_->mnt(), parent}) {
    SCOPED_TRACE(over);
    ASSERT_EQ(::mount("none", over.c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
    if (over == parent) {
      ASSERT_EQ(::mkdir(fs_->mnt().c_str(), 0755), 0);
    }
    errno = 0;
    EXPECT_EQ(finesse_stat(p("d/f").c_str(), &st), -1);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(finesse_mkdir(p("d").c_str(), 0755), 0) << strerror(errno);
    EXPECT_EQ(finesse_mkdir(p("d/z").c_str(), 0755), 0) << strerror(errno);
    EXPECT_EQ(::stat(p("d/z").c_str(), &st), 0) << "mkdir did not happen in the tmpfs";
    ASSERT_EQ(::umount2(over.c_str(), MNT_DETACH), 0) << strerror(errno);
    errno = 0;
    EXPECT_EQ(::stat(p("d/z").c_str(), &st), -1) << "the bypass wrote into the covered mount";
    EXPECT_EQ(finesse_stat(p("d/f").c_str(), &st), 0) << strerror(errno);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "not served again once uncovered";
  }
}

// A child process watches d with inotify while we mutate through the explicit API; returns
// the events it got ("CREATE x", "MOVED_FROM x", ...), one per line.
class Watcher {
 public:
  explicit Watcher(const std::string &dir) {
    if (pipe(ready_) != 0 || pipe(go_) != 0 || pipe(out_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) _exit(child(dir));
    close(ready_[1]);
    close(go_[0]);
    close(out_[1]);
    char c;
    ok_ = read(ready_[0], &c, 1) == 1 && c == 'r';
  }
  ~Watcher() {
    if (pid_ > 0) collect();
  }
  bool ok() const { return ok_; }
  // Tells the child to report, waits for it to exit.
  std::string collect() {
    if (pid_ <= 0) return events_;
    if (write(go_[1], "g", 1) != 1) { /* the child sees EOF */
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(out_[0], buf, sizeof(buf))) > 0) events_.append(buf, n);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    close(ready_[0]);
    close(go_[1]);
    close(out_[0]);
    return events_;
  }

 private:
  int child(const std::string &dir) {
    int in = inotify_init1(IN_NONBLOCK);
    int wd =
        in < 0 ? -1
               : inotify_add_watch(in, dir.c_str(),
                                   IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB);
    if (write(ready_[1], wd >= 0 ? "r" : "x", 1) != 1) return 1;
    char c;
    if (read(go_[0], &c, 1) < 0) return 1;
    // fsnotify events are queued by the mutating call itself, before it returns.
    alignas(inotify_event) char buf[8192];
    std::string out;
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
      for (char *q = buf; q < buf + n;) {
        auto *e = reinterpret_cast<inotify_event *>(q);
        const char *what = (e->mask & IN_CREATE)       ? "CREATE"
                           : (e->mask & IN_DELETE)     ? "DELETE"
                           : (e->mask & IN_MOVED_FROM) ? "MOVED_FROM"
                           : (e->mask & IN_MOVED_TO)   ? "MOVED_TO"
                           : (e->mask & IN_ATTRIB)     ? "ATTRIB"
                                                       : "OTHER";
        out += std::string(what) + " " + (e->len ? e->name : "") + "\n";
        q += sizeof(inotify_event) + e->len;
      }
    }
    return write(out_[1], out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 1;
  }

  pid_t pid_ = -1;
  int ready_[2] = {-1, -1}, go_[2] = {-1, -1}, out_[2] = {-1, -1};
  bool ok_ = false;
  std::string events_;
};

// Item 13.6: bypassed mutations raise no inotify events; with a watch on the mount they go
// through the kernel (and raise them), reads stay bypassed; once the watcher is gone,
// mutations are bypassed again.
TEST_P(KernelEvents, WatchedMountMutationsRaiseEvents) {
  ASSERT_EQ(finesse_mkdir(p("d/before").c_str(), 0755), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  std::string events;
  {
    Watcher w(p("d"));
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(finesse_mkdir(p("d/x").c_str(), 0755), 0);
    EXPECT_EQ(finesse_rename(p("d/x").c_str(), p("d/y").c_str()), 0);
    EXPECT_EQ(finesse_unlink(p("d/f").c_str()), 0);
    EXPECT_EQ(finesse_chmod(p("d/y").c_str(), 0700), 0);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
    struct stat st;
    EXPECT_EQ(finesse_stat(p("d/y").c_str(), &st), 0);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "reads raise no events";
    events = w.collect();
  }
  for (const char *e : {"CREATE x\n", "MOVED_FROM x\n", "MOVED_TO y\n", "DELETE f\n", "ATTRIB y\n"})
    EXPECT_NE(events.find(e), std::string::npos) << "missing " << e << "got:\n" << events;
  // The watcher exited: bypassed again.
  EXPECT_EQ(finesse_rmdir(p("d/y").c_str()), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
}

INSTANTIATE_TEST_SUITE_P(All, KernelEvents, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
