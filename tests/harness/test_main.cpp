// main() for every Finesse test suite: gtest plus the harness safety net.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "harness.h"

int main(int argc, char **argv) {
  // Exact routes: a read-only call waits for a sleeping server rather than taking the kernel
  // (common/tuning.h). Inherited by every program a test starts; idle_server_test, which
  // tests the default, sets it to 0 first.
  setenv("FINESSE_WAKE_FOR_READS", "1", /*overwrite=*/0);
  ::testing::InitGoogleTest(&argc, argv);
  finesse::testing::install_safety_net();
  return RUN_ALL_TESTS();
}
