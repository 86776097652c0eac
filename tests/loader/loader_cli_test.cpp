// finesse-loader's command line: each failure a user can meet has its own exit code and a
// one-line message; attach/detach keep the registry exact.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attached_fs.h"
#include "loader_cli.h"

namespace finesse::testing {
namespace {

// How many registry entries name `mnt` (list_attached reads the pinned map directly).
int registry_entries_for(const std::string &mnt) {
  std::vector<loader::AttachedMount> all;
  if (loader::list_attached(&all).code != loader::kOk) return -1;
  return static_cast<int>(std::count_if(all.begin(), all.end(),
                                        [&](const auto &a) { return mnt == a.entry.mount_path; }));
}

// Detaches at scope exit what the CLI attached, even when an assertion ended the test early.
struct DetachAtExit {
  std::string mnt;
  ~DetachAtExit() {
    if (registry_entries_for(mnt) > 0) loader::detach(mnt);
    finesse_refresh_registry();
  }
};

// A tmpfs mounted in a temp dir for as long as it lives.
class TmpfsMount {
 public:
  TmpfsMount() : path_(dir_.sub("tmpfs")) {
    ::mkdir(path_.c_str(), 0755);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string &path() const { return path_; }

 private:
  TempDir dir_;
  std::string path_;
  bool mounted_ = false;
};

TEST(LoaderCli, HelpShowsExamplesAndExitsZero) {
  CommandResult r = loader_cli({"--help"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Examples:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("finesse-loader attach"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
}

TEST(LoaderCli, MissingSubcommandIsUsageError) {
  CommandResult r = loader_cli({});
  EXPECT_EQ(r.status, loader::kUsage) << r.out << r.err;
  EXPECT_FALSE(r.err.empty());
}

TEST(LoaderCli, UnknownOptionIsUsageError) {
  CommandResult r = loader_cli({"--no-such-option"});
  EXPECT_EQ(r.status, loader::kUsage) << r.out << r.err;
  r = loader_cli({"attach"});  // MOUNTPOINT missing
  EXPECT_EQ(r.status, loader::kUsage) << r.out << r.err;
  r = loader_cli({"frobnicate"});
  EXPECT_EQ(r.status, loader::kUsage) << r.out << r.err;
}

TEST(LoaderCli, AttachAsNonRootIsRefused) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  CommandResult r = loader_cli_as_nobody({"attach", fs.mnt()});
  EXPECT_EQ(r.status, loader::kNotRoot) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("root"), std::string::npos) << r.err;
  EXPECT_EQ(registry_entries_for(fs.mnt()), 0);
  r = loader_cli_as_nobody({"detach", fs.mnt()});
  EXPECT_EQ(r.status, loader::kNotRoot) << r.err;
}

// The CLI run in a private mount namespace after `setup` (shell commands) changed what it
// sees: the kernel really lacks, for that process, what setup hid.
CommandResult loader_cli_in_namespace(const std::string &setup, const std::string &args) {
  return run_command({"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                      setup + " && exec \"$L\" " + args},
                     {{"L", loader_binary()}});
}

TEST(LoaderCli, AttachWithoutBtfIsRefused) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  // An empty tmpfs over /sys/kernel/btf: no vmlinux BTF, so no CO-RE program can load.
  CommandResult r = loader_cli_in_namespace("mount -t tmpfs none /sys/kernel/btf",
                                            "attach '" + fs.mnt() + "'");
  EXPECT_EQ(r.status, loader::kNoBpf) << r.out << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("BTF"), std::string::npos) << r.err;
  EXPECT_EQ(registry_entries_for(fs.mnt()), 0);
}

TEST(LoaderCli, AttachWhereBpffsCannotBeMountedIsRefused) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  // An empty tmpfs over /sys/fs: there is no /sys/fs/bpf to find or mount bpffs on.
  CommandResult r =
      loader_cli_in_namespace("mount -t tmpfs none /sys/fs", "attach '" + fs.mnt() + "'");
  EXPECT_EQ(r.status, loader::kNoBpffs) << r.out << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("bpffs"), std::string::npos) << r.err;
  EXPECT_EQ(registry_entries_for(fs.mnt()), 0);
}

TEST(LoaderCli, AttachPlainDirectoryIsNotAMountPoint) {
  TempDir dir;
  CommandResult r = loader_cli({"attach", dir.path()});
  EXPECT_EQ(r.status, loader::kNotMountPoint) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("not a mount point"), std::string::npos) << r.err;
  r = loader_cli({"attach", dir.sub("missing")});
  EXPECT_EQ(r.status, loader::kNotMountPoint) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
}

TEST(LoaderCli, AttachNonFuseMountIsRefused) {
  TmpfsMount tmpfs;
  ASSERT_TRUE(tmpfs.mounted()) << strerror(errno);
  CommandResult r = loader_cli({"attach", tmpfs.path()});
  EXPECT_EQ(r.status, loader::kNotFuse) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("not a FUSE mount"), std::string::npos) << r.err;
  r = loader_cli({"attach", "/proc"});
  EXPECT_EQ(r.status, loader::kNotFuse) << r.err;
}

TEST(LoaderCli, AttachFuseMountWithoutServerIsRefused) {
  MountedFs fs(MountOptions{});  // no libfinesse_fuse.so: no bypass server
  CommandResult r = loader_cli({"attach", fs.mountpoint()});
  EXPECT_EQ(r.status, loader::kNoServer) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("libfinesse_fuse.so"), std::string::npos) << r.err;
  EXPECT_EQ(registry_entries_for(fs.mountpoint()), 0);
}

TEST(LoaderCli, AttachTwiceIsRefused) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  DetachAtExit guard{fs.mnt()};
  CommandResult r = loader_cli({"attach", fs.mnt()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("attached " + fs.mnt()), std::string::npos) << r.out;
  r = loader_cli({"attach", fs.mnt()});
  EXPECT_EQ(r.status, loader::kAlreadyAttached) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_NE(r.err.find("already attached"), std::string::npos) << r.err;
  EXPECT_EQ(registry_entries_for(fs.mnt()), 1);
  EXPECT_EQ(loader_cli({"detach", fs.mnt()}).status, 0);
}

TEST(LoaderCli, DetachOfUnattachedMountIsRefused) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  CommandResult r = loader_cli({"detach", fs.mnt()});
  EXPECT_EQ(r.status, loader::kNotAttached) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  // "'<mnt>' is not attached", or "nothing is attached" when no registry exists yet.
  EXPECT_NE(r.err.find(" attached"), std::string::npos) << r.err;
}

TEST(LoaderCli, DetachRemovesTheMountFromStatus) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  DetachAtExit guard{fs.mnt()};
  ASSERT_EQ(loader_cli({"attach", fs.mnt()}).status, 0);
  CommandResult st = loader_cli({"status"});
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_NE(st.out.find(fs.mnt() + "  mount-id"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("server-pid " + std::to_string(fs.fs().daemon_pid())), std::string::npos)
      << st.out;
  CommandResult r = loader_cli({"detach", fs.mnt()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("detached " + fs.mnt()), std::string::npos) << r.out;
  st = loader_cli({"status"});
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(st.out.find(fs.mnt()), std::string::npos) << st.out;
  EXPECT_EQ(registry_entries_for(fs.mnt()), 0);
}

TEST(LoaderCli, StatsJsonCountsBypassedCalls) {
  AttachedFs fs(MountOptions{});
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
  constexpr int kCalls = 25;
  struct stat st;
  for (int i = 0; i < kCalls; i++) {
    ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
    ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  }
  CommandResult r = loader_cli({"stats", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_array()) << r.out;
  const nlohmann::json *mine = nullptr;
  for (const auto &m : j)
    if (m.value("mount", "") == fs.mnt()) mine = &m;
  ASSERT_NE(mine, nullptr) << "no entry for " << fs.mnt() << " in " << r.out;
  ASSERT_TRUE(mine->contains("ops")) << r.out;
  const auto &stat_op = (*mine)["ops"]["stat"];
  ASSERT_TRUE(stat_op.contains("bypassed") && stat_op.contains("fell_back")) << r.out;
  EXPECT_GE(stat_op["bypassed"].get<uint64_t>(), uint64_t{kCalls}) << r.out;
  EXPECT_GT((*mine)["kernel_ops"].get<uint64_t>(), 0u) << "the mkdir went through the kernel";
}

TEST(LoaderCli, AttachDetachCyclesLeaveNoStaleEntry) {
  AttachedFs fs(MountOptions{}, /*attach=*/false);
  DetachAtExit guard{fs.mnt()};
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
  struct stat st;
  for (int i = 0; i < 10; i++) {
    CommandResult r = loader_cli({"attach", fs.mnt()});
    ASSERT_EQ(r.status, 0) << "cycle " << i << ": " << r.err;
    ASSERT_EQ(registry_entries_for(fs.mnt()), 1) << "cycle " << i;
    finesse_refresh_registry();
    ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "cycle " << i;
    r = loader_cli({"detach", fs.mnt()});
    ASSERT_EQ(r.status, 0) << "cycle " << i << ": " << r.err;
    ASSERT_EQ(registry_entries_for(fs.mnt()), 0) << "cycle " << i;
    finesse_refresh_registry();
    ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL) << "cycle " << i;
  }
}

}  // namespace
}  // namespace finesse::testing
