// `finesse-loader unload` removes every pin: the registry is gone, clients fall back to the
// kernel, and a later attach starts afresh. Run alone (RUN_SERIAL): it detaches every mount.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "attached_fs.h"
#include "loader_cli.h"

namespace finesse::testing {
namespace {

bool exists(const char *path) {
  struct stat st;
  return ::stat(path, &st) == 0;
}

TEST(LoaderUnload, RemovesEveryPinAndClientsFallBack) {
  AttachedFs fs(MountOptions{});
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
  struct stat st;
  ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  ASSERT_TRUE(exists(FINESSE_PIN_DIR));

  CommandResult r = loader_cli({"unload"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(exists(FINESSE_PIN_DIR)) << FINESSE_PIN_DIR << " survived unload";
  EXPECT_FALSE(exists(FINESSE_MOUNTS_PIN));
  finesse_refresh_registry();
  ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  CommandResult status = loader_cli({"status"});
  EXPECT_EQ(status.status, 0) << status.err;
  EXPECT_EQ(status.out.find(fs.mnt()), std::string::npos) << status.out;

  // Without a registry nothing is attached; unloading twice is harmless; attaching
  // afterwards recreates the registry.
  r = loader_cli({"detach", fs.mnt()});
  EXPECT_EQ(r.status, loader::kNotAttached) << r.err;
  EXPECT_TRUE(is_one_line_error(r.err)) << r.err;
  EXPECT_EQ(loader_cli({"unload"}).status, 0);
  EXPECT_FALSE(exists(FINESSE_PIN_DIR));
  r = loader_cli({"attach", fs.mnt()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(exists(FINESSE_MOUNTS_PIN));
  finesse_refresh_registry();
  ASSERT_EQ(finesse_stat(fs.path("d").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(loader_cli({"detach", fs.mnt()}).status, 0);
}

}  // namespace
}  // namespace finesse::testing
