// finesse-loader and the BPF side, without unloading (parallel-safe): status lists the
// pinned programs, stats shows the BPF missed-bypass counters next to the server's.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "attached_fs.h"
#include "finesse_track.h"
#include "loader_cli.h"
#include "track_programs.h"

namespace finesse::testing {
namespace {

TEST(LoaderBpf, AttachLoadsAndPinsThePrograms) {
  AttachedFs fs(MountOptions{});
  EXPECT_TRUE(loader::programs_loaded());
  std::vector<loader::PinnedProgram> progs = loader::pinned_programs();
  ASSERT_GT(progs.size(), 20u);
  for (const auto &p : progs) EXPECT_NE(p.prog_id, 0u) << p.name;
  for (const char *pin : {FINESSE_FDS_PIN, FINESSE_CWDS_PIN, FINESSE_MISSED_PIN}) {
    struct stat st;
    ASSERT_EQ(::stat(pin, &st), 0) << pin;
    EXPECT_EQ(st.st_mode & 0777, 0644u) << pin;
  }
  CommandResult r = loader_cli({"status"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(fs.mnt()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit_openat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prog " + std::to_string(progs[0].prog_id)), std::string::npos) << r.out;
}

// Each tracked syscall is hooked once: by its tracepoint program, or where the kernel lets
// tracing programs attach to the syscall's wrapper, by the twin there (fexit_X / fentry_X)
// instead, which spares every other system call the slow tracepoint path.
TEST(LoaderBpf, EachSyscallIsHookedOnceByTracepointOrTwin) {
  AttachedFs fs(MountOptions{});
  std::set<std::string> names;
  for (const auto &p : loader::pinned_programs()) names.insert(p.name);
  auto twin = [](const std::string &tp) {
    return tp.rfind("exit_", 0) == 0 ? "f" + tp : "fentry_" + tp.substr(strlen("enter_"));
  };
  for (const char *tp : {"exit_openat", "exit_dup", "exit_dup2", "enter_fcntl", "exit_fcntl",
                         "enter_close", "exit_close_range", "exit_chdir", "exit_fchdir",
                         "exit_setuid", "exit_unshare", "exit_mount", "enter_inotify_add_watch"})
    EXPECT_NE(names.count(tp), names.count(twin(tp))) << tp << " and " << twin(tp);
  for (const std::string &n : names) {
    if (n.rfind("fexit_", 0) == 0) {
      EXPECT_EQ(names.count(n.substr(1)), 0u) << n;
    } else if (n.rfind("fentry_", 0) == 0) {
      EXPECT_EQ(names.count("enter_" + n.substr(7)), 0u) << n;
    }
  }
}

TEST(LoaderBpf, StatsShowKernelPathCallsAsFellBack) {
  AttachedFs fs(MountOptions{});
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);  // the test links no preload: kernel path
  CommandResult on = loader_cli({"missed", "on"});
  ASSERT_EQ(on.status, 0) << on.err;
  struct Off {
    ~Off() { loader_cli({"missed", "off"}); }
  } off;
  ASSERT_EQ(::mkdir(fs.path("e").c_str(), 0755), 0);
  for (int i = 0; i < 3; i++) {
    struct stat st;
    ASSERT_EQ(::stat(fs.path("d").c_str(), &st), 0);
  }
  CommandResult r = loader_cli({"stats", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json all = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto &m : all) {
    if (m["mount"] != fs.mnt()) continue;
    found = true;
    EXPECT_TRUE(m["bpf_counters"].get<bool>()) << m.dump();
    EXPECT_GE(m["ops"]["stat"]["kernel"].get<uint64_t>(), 3u) << m.dump();
    EXPECT_GE(m["ops"]["stat"]["fell_back"].get<uint64_t>(), 3u) << m.dump();
    EXPECT_GE(m["ops"]["mkdir"]["kernel"].get<uint64_t>(), 1u) << m.dump();
  }
  EXPECT_TRUE(found) << r.out;
  r = loader_cli({"stats"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("kernel(bpf)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace finesse::testing
