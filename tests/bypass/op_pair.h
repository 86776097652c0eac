// Runs the same file-system operation through the bypass (finesse_* API) on one tree and
// through the kernel (libc) on an identical twin tree, and compares what came back.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace finesse::testing {

struct Outcome {
  long rc = 0;
  int err = 0;
  std::string data;  // what the call returned besides rc, normalised for comparison
  bool operator==(const Outcome &o) const { return rc == o.rc && err == o.err && data == o.data; }
};

// Describes st without what legitimately differs between twins (inode numbers, times, dev).
std::string describe_stat(const struct stat &st);

struct RandomOp {
  std::string text;  // human-readable, for failure messages
  Outcome bypass;
  Outcome kernel;
  bool bypassed = false;  // finesse_last_route() of the bypass call
};

// Generates and runs one random operation on twin roots a (bypass) and b (kernel).
RandomOp run_random_op(std::mt19937 &rng, const std::string &a, const std::string &b, bool root);

// Creates the same starting tree under root (as root).
void build_twin_tree(const std::string &root);

// The whole tree under root, described (names, types, modes, sizes, owners, link targets).
std::string describe_tree(const std::string &root);

// The same starting tree under mnt/a (for the bypass) and mnt/b (for the kernel); false if
// they do not come out alike.
bool build_twin_trees(const std::string &mnt, std::string *a, std::string *b);

}  // namespace finesse::testing
