// The mount lazily unmounted (umount -l) while clients are busy on it: no call hangs or
// crashes; each gets either its right answer or what the kernel gives for a path whose mount
// went away (ENOENT below the now empty mount point, ENOTCONN/ECONNABORTED from a connection
// torn down mid-call); the daemon exits cleanly; the source tree agrees with the journals.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "attached_fs.h"
#include "journal_workers.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(UnmountUnderLoad, CallsEndAndTheDaemonExitsCleanly) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  AttachedFs fs(o);
  std::atomic<bool> unmounted{false};
  journal::Workers workers(fs.mnt(), 4, &unmounted, 21);
  workers.start();
  ASSERT_TRUE(workers.each_runs(300, 10s)) << "the load did not get going";
  unmounted = true;
  CommandResult r = run_command({"umount", "-l", fs.mnt()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(workers.each_runs(20, 10s)) << "calls stopped returning after the unmount";
  bool returned = workers.stop_and_wait(10s);
  if (!returned) {
    ::kill(fs.fs().daemon_pid(), SIGKILL);
    workers.join();
  }
  ASSERT_TRUE(returned) << "a call never returned after the unmount";

  for (auto deadline = Clock::now() + 10s; fs.fs().daemon_alive() && Clock::now() < deadline;)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(fs.fs().daemon_alive()) << "the daemon outlived its unmounted file system";
  int status = fs.fs().stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "daemon status " << status << ": " << fs.fs().daemon_stderr();

  journal::Verdict v =
      workers.check(fs.fs().source(), journal::Policy{{ENOENT, ENOTCONN, ECONNABORTED}});
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  RecordProperty("journal", v.summary());
}

}  // namespace
}  // namespace finesse::testing
