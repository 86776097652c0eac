#include "fs_fixture.h"

#include <sys/stat.h>

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
  return params;
}

std::string param_label(const ::testing::TestParamInfo<FsParam> &info) { return info.param.label; }

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
  fs_.reset();
  umask(saved_umask_);
}

}  // namespace finesse::kernel_path
