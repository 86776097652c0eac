#include "fs_fixture.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <sstream>

namespace finesse::kernel_path {

std::vector<FsParam> lowlevel_fs() {
  return {
      {FsKind::kMemfs, -1, -1, "memfs"},
      {FsKind::kPassthrough, -1, -1, "passthrough"},
      {FsKind::kMemfs, 0, 0, "memfs_timeout0"},
      {FsKind::kPassthrough, 0, 0, "passthrough_timeout0"},
  };
}

std::vector<FsParam> all_fs() {
  auto params = lowlevel_fs();
  params.push_back({FsKind::kHighLevel, -1, -1, "hlfs"});
  params.push_back({FsKind::kHighLevel, 0, 0, "hlfs_timeout0"});
  return params;
}

std::vector<FsParam> only(FsKind kind, const std::vector<FsParam> &params) {
  std::vector<FsParam> kept;
  for (const auto &param : params) {
    if (param.kind == kind) kept.push_back(param);
  }
  return kept;
}

std::vector<FsParam> without(const std::string &label, const std::vector<FsParam> &params) {
  std::vector<FsParam> kept;
  for (const auto &param : params) {
    if (param.label != label) kept.push_back(param);
  }
  return kept;
}

void PrintTo(const FsParam &param, std::ostream *out) {
  *out << param.label;
}

std::string param_label(const ::testing::TestParamInfo<FsParam> &info) {
  return info.param.label;
}

testing::MountOptions MountedFsTest::mount_options() const {
  testing::MountOptions opts;
  opts.fs = GetParam().kind;
  opts.entry_timeout = GetParam().entry_timeout;
  opts.attr_timeout = GetParam().attr_timeout;
  return opts;
}

void MountedFsTest::SetUp() {
  // Modes in the tests are exact: no umask interference (restored in TearDown).
  saved_umask_ = umask(0);
  fs_ = std::make_unique<testing::MountedFs>(mount_options());
}

void MountedFsTest::TearDown() {
  // A failure caused by a dying daemon is much easier to read with the daemon's own story.
  if (HasFailure() && fs_ != nullptr) {
    const bool alive = fs_->daemon_alive();
    const int status = fs_->stop();
    std::ostringstream report;
    report << testing::fs_name(GetParam().kind) << " daemon "
           << (alive ? "was still running" : "had died") << "; wait status " << status;
    if (WIFSIGNALED(status)) report << " (signal " << WTERMSIG(status) << ")";
    if (WIFEXITED(status)) report << " (exit " << WEXITSTATUS(status) << ")";
    report << "; its stderr:\n" << fs_->daemon_stderr();
    std::fputs(report.str().c_str(), stderr);
  }
  fs_.reset();
  umask(saved_umask_);
}

}  // namespace finesse::kernel_path
