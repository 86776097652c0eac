// main() for every Finesse test suite: gtest plus the harness safety net.
#include <gtest/gtest.h>

#include "harness.h"

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  finesse::testing::install_safety_net();
  return RUN_ALL_TESTS();
}
