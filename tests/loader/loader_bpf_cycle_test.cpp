// attach/detach/unload cycles: unload leaves no pin, no attached program and no link (checked
// by id and with bpftool), detach leaves no registry entry, and attach loads everything again.
// Run alone (RUN_SERIAL): unload removes every mount's registry and the programs.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "attached_fs.h"
#include "finesse_track.h"
#include "loader_cli.h"
#include "track_programs.h"

namespace finesse::testing {
namespace {

bool exists(const char *path) {
  struct stat st;
  return ::stat(path, &st) == 0;
}

bool prog_exists(uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool link_exists(uint32_t id) {
  int fd = bpf_link_get_fd_by_id(id);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Programs and links are freed asynchronously (RCU) after their last reference goes.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 100; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

int registry_entries_for(const std::string &mnt) {
  std::vector<loader::AttachedMount> all;
  if (loader::list_attached(&all).code != loader::kOk) return -1;
  return static_cast<int>(std::count_if(all.begin(), all.end(),
                                        [&](const auto &a) { return mnt == a.entry.mount_path; }));
}

bool bpftool_lists(const char *what, uint32_t id) {
  CommandResult r = run_command({"bpftool", what, "show", "id", std::to_string(id)});
  return r.status == 0 && !r.out.empty();
}

TEST(LoaderBpfCycle, UnloadRemovesProgramsLinksAndPins) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  for (int cycle = 0; cycle < 3; cycle++) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    CommandResult r = loader_cli({"attach", fs.mnt()});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(loader::programs_loaded());
    std::vector<loader::PinnedProgram> progs = loader::pinned_programs();
    ASSERT_FALSE(progs.empty());
    for (const auto &p : progs) {
      ASSERT_TRUE(prog_exists(p.prog_id)) << p.name;
      ASSERT_TRUE(link_exists(p.link_id)) << p.name;
    }
    EXPECT_TRUE(bpftool_lists("prog", progs[0].prog_id));
    EXPECT_TRUE(bpftool_lists("link", progs[0].link_id));
    EXPECT_EQ(registry_entries_for(fs.mnt()), 1);

    // Detach keeps the programs (other mounts may use them) but drops the entry.
    r = loader_cli({"detach", fs.mnt()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(registry_entries_for(fs.mnt()), 0);
    EXPECT_TRUE(loader::programs_loaded());
    r = loader_cli({"detach", fs.mnt()});
    EXPECT_EQ(r.status, loader::kNotAttached) << r.err;

    if (cycle == 1) continue;  // one cycle re-attaches with the programs still loaded
    r = loader_cli({"unload"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(exists(FINESSE_PIN_DIR)) << "a pin survived unload";
    for (const auto &p : progs) {
      EXPECT_TRUE(eventually([&] { return !prog_exists(p.prog_id); })) << p.name << " still loaded";
      EXPECT_TRUE(eventually([&] { return !link_exists(p.link_id); })) << p.name << " still linked";
    }
    EXPECT_FALSE(bpftool_lists("prog", progs[0].prog_id));
    EXPECT_FALSE(bpftool_lists("link", progs[0].link_id));
    EXPECT_TRUE(loader::pinned_programs().empty());
    r = loader_cli({"status"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("BPF programs: none loaded"), std::string::npos) << r.out;
  }
  EXPECT_EQ(loader_cli({"unload"}).status, 0);
  EXPECT_FALSE(exists(FINESSE_PIN_DIR));
}

// Pins of an interrupted or older load are replaced by a complete load of this build.
TEST(LoaderBpfCycle, IncompleteLoadIsRedone) {
  AttachedFs fs(MountOptions{});
  ASSERT_TRUE(loader::programs_loaded());
  ASSERT_EQ(::unlink(FINESSE_TRACK_INFO_PIN), 0);  // as if the loader died before the end
  EXPECT_FALSE(loader::programs_loaded());
  fs.detach();
  CommandResult r = loader_cli({"attach", fs.mnt()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(loader::programs_loaded());
  EXPECT_FALSE(loader::pinned_programs().empty());
  EXPECT_EQ(loader_cli({"detach", fs.mnt()}).status, 0);
}

}  // namespace
}  // namespace finesse::testing
