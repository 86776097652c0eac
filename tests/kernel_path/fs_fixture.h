// Parametrised fixture: each test gets a fresh mount of one sample file system, reached
// through the real kernel FUSE path.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "harness.h"

namespace finesse::kernel_path {

using testing::FsKind;

struct FsParam {
  FsKind kind = FsKind::kMemfs;
  double entry_timeout = -1;  // < 0: the file system's default
  double attr_timeout = -1;
  std::string label;  // test name suffix, e.g. "memfs_timeout0"
};

// gtest prints parameters of failed tests with this instead of a hex dump.
void PrintTo(const FsParam &param, std::ostream *out);

// memfs and passthrough, each with default timeouts and with entry/attr timeouts of 0 (every
// access goes to the daemon, so its own answers are checked rather than the kernel's cache).
std::vector<FsParam> lowlevel_fs();
// The above plus hlfs (high-level API, also with and without caching).
std::vector<FsParam> all_fs();
// Those of `params` whose kind is `kind`, or that do not carry `label`.
std::vector<FsParam> only(FsKind kind, const std::vector<FsParam> &params);
std::vector<FsParam> without(const std::string &label, const std::vector<FsParam> &params);
std::string param_label(const ::testing::TestParamInfo<FsParam> &info);

class MountedFsTest : public ::testing::TestWithParam<FsParam> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Override to change the mount (e.g. default_permissions, allow_other).
  virtual testing::MountOptions mount_options() const;

  std::string p(const std::string &rel) const { return fs_->path(rel); }
  const std::string &root() const { return fs_->mountpoint(); }
  FsKind kind() const { return GetParam().kind; }
  bool is_hlfs() const { return kind() == FsKind::kHighLevel; }
  bool no_cache() const { return GetParam().entry_timeout == 0 && GetParam().attr_timeout == 0; }

  std::unique_ptr<testing::MountedFs> fs_;

 private:
  mode_t saved_umask_ = 0;
};

}  // namespace finesse::kernel_path
