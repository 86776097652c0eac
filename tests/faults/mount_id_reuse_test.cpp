// Mount ids are reused by the kernel: a new mount that gets the id of a mount whose daemon
// died must not inherit the dead server's connection state in the client (its backoff, or
// worse its connection).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

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

}  // namespace
}  // namespace finesse::testing
