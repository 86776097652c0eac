// A sleeping server is not woken to answer a read-only call: waking it costs 60-80 us, where
// the kernel answers a cached name in about one. The call takes the kernel and, if it is one
// of a run, wakes the server for the calls after it; a mutation, which costs the kernel path a
// round trip to the daemon anyway, waits for it. (Every other suite sets FINESSE_WAKE_FOR_READS=1,
// for exact routes; this one runs with the default.)
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

// Before main(), whose default (test_main.cpp) does not overwrite it.
const bool g_default_routes = setenv("FINESSE_WAKE_FOR_READS", "0", 1) == 0;

// The server's spin after its last request, long enough that "awake" is not a race here, and
// short enough to wait out.
constexpr int kServerSpinMs = 300;

class IdleServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(g_default_routes);
    MountOptions o;
    o.env["FINESSE_SERVER_SPIN_US"] = std::to_string(kServerSpinMs * 1000);
    // Nothing cached by the kernel: where it caches, reads take whichever route was cheaper
    // lately (read_route_test), and a cached stat is the kernel's until its entry expires
    // (1 s), which made the wake-up here a matter of seconds under load.
    o.entry_timeout = 0;
    o.attr_timeout = 0;
    fs_ = std::make_unique<AttachedFs>(o);
    ASSERT_EQ(::mkdir(fs_->path("d").c_str(), 0755), 0);
    // Connected (the first call of a process only starts the handshake).
    struct stat st;
    for (int i = 0; i < 3; i++) finesse_stat(fs_->path("d").c_str(), &st);
  }
  static void let_server_sleep() {
    std::this_thread::sleep_for(std::chrono::milliseconds(kServerSpinMs * 5));
  }
  std::unique_ptr<AttachedFs> fs_;
};

TEST_F(IdleServer, ReadOnlyCallTakesTheKernelAndWakesTheServer) {
  struct stat st;
  uint64_t served = fs_->served_total();
  // (A loader of a parallel test, asking every server for its facts, may have the server up
  // at that very moment: a few tries. Waking it for reads, as before, fails them all.)
  bool to_kernel = false;
  for (int attempt = 0; attempt < 3 && !to_kernel; attempt++) {
    let_server_sleep();
    ASSERT_EQ(finesse_stat(fs_->path("d").c_str(), &st), 0);
    to_kernel = finesse_last_route() == FINESSE_ROUTE_KERNEL;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
  EXPECT_TRUE(to_kernel) << "the read waited for the sleeping server";
  // A run of reads (each within a millisecond of the last) wakes it; it answers the next ones
  // once up (within milliseconds).
  bool bypassed = false;
  for (int i = 0; i < 20000 && !bypassed; i++) {
    ASSERT_EQ(finesse_stat(fs_->path("d").c_str(), &st), 0);
    bypassed = finesse_last_route() == FINESSE_ROUTE_BYPASS;
    if (!bypassed) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_TRUE(bypassed) << "the server was not woken";
  EXPECT_GE(fs_->served_total(), served + 1);
}

TEST_F(IdleServer, MutationWaitsForTheServer) {
  let_server_sleep();
  ASSERT_EQ(finesse_mkdir(fs_->path("d/e").c_str(), 0755), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  struct stat st;
  EXPECT_EQ(::stat(fs_->path("d/e").c_str(), &st), 0);
}

}  // namespace
}  // namespace finesse::testing
