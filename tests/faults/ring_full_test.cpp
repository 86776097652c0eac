// More threads in one process than its region has slots (wire::kSlotCount = 64): a thread
// that finds no free slot uses the kernel. Every call completes, with the right result.
#include <gtest/gtest.h>

#include <chrono>

#include "attached_fs.h"
#include "journal_workers.h"
#include "wire.h"

namespace finesse::testing {
namespace {

using namespace std::chrono_literals;

TEST(RingFull, TwiceAsManyThreadsAsSlotsAllCompleteRight) {
  AttachedFs fs(MountOptions{});
  const int threads = 2 * static_cast<int>(wire::kSlotCount);
  journal::Workers workers(fs.mnt(), threads, nullptr, 41);
  workers.start();
  EXPECT_TRUE(workers.each_runs(40, 20s)) << "some thread made no progress";
  bool returned = workers.stop_and_wait(20s);
  if (!returned) {
    ::kill(fs.fs().daemon_pid(), SIGKILL);
    workers.join();
  }
  ASSERT_TRUE(returned) << "a call never returned";
  journal::Verdict v = workers.check(fs.mnt(), journal::Policy{});
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  RecordProperty("journal", v.summary());
  EXPECT_TRUE(fs.fs().daemon_alive());
}

}  // namespace
}  // namespace finesse::testing
