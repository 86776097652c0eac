// Mount ids are reused by the kernel: a new mount that gets the id of a mount whose daemon
// died must not inherit the dead server's connection state in the client (its backoff, or
// worse its connection).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

using namespace std::chrono_literals;

uint64_t mount_id(const std::string &path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &stx) != 0) return 0;
  return stx.stx_mnt_id;
}

TEST(MountIdReuse, NewMountIsBypassedAtOnce) {
  auto old_fs = std::make_unique<AttachedFs>(MountOptions{});
  ASSERT_EQ(::mkdir(old_fs->path("d").c_str(), 0755), 0);
  struct stat st;
  ASSERT_EQ(finesse_stat(old_fs->path("d").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  const uint64_t old_id = mount_id(old_fs->mnt());
  // The daemon dies; the client notices on its next calls (and backs off reconnecting).
  // Their answers are the kernel's (possibly from its caches): only the client's state matters.
  ASSERT_EQ(::kill(old_fs->fs().daemon_pid(), SIGKILL), 0);
  for (auto deadline = std::chrono::steady_clock::now() + 2s;
       old_fs->fs().daemon_alive() && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(5ms);
  for (int i = 0; i < 3; i++) (void)finesse_stat(old_fs->path("d/x").c_str(), &st);
  old_fs.reset();  // unmounted, registry entry removed

  AttachedFs fs(MountOptions{});
  // The kernel usually hands the freed id to this mount (the case that matters); if a
  // concurrent mount took it, the property below must hold all the same.
  RecordProperty("mount_id_reused", mount_id(fs.mnt()) == old_id ? "yes" : "no");
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
  ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS)
      << "the new mount (same mount id " << old_id << ") inherited the dead server's state";
}

// More distinct mount ids in one process lifetime than the client has connection entries
// (FINESSE_MAX_MOUNTS): every new mount is bypassed all the same.
TEST(MountIdReuse, MoreMountIdsThanConnectionEntries) {
  // Each freed id is held by a tmpfs, so that the next mount gets a new one.
  struct Holders {
    std::vector<std::unique_ptr<TempDir>> dirs;
    ~Holders() {
      for (auto &d : dirs) umount2(d->path().c_str(), MNT_DETACH);
    }
  } holders;
  std::set<uint64_t> ids;
  for (int i = 0; i < FINESSE_MAX_MOUNTS + 8; i++) {
    {
      AttachedFs fs(MountOptions{});
      ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
      struct stat st;
      ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
      ids.insert(mount_id(fs.mnt()));
      ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS)
          << "mount number " << i + 1 << " (" << ids.size() << " distinct mount ids)";
    }
    auto d = std::make_unique<TempDir>();
    if (mount("none", d->path().c_str(), "tmpfs", 0, nullptr) == 0)
      holders.dirs.push_back(std::move(d));
  }
  EXPECT_GT(ids.size(), static_cast<size_t>(FINESSE_MAX_MOUNTS));
}

}  // namespace
}  // namespace finesse::testing
