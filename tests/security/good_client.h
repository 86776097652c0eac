// The well-behaved client of the hostile-client tests: libfinesse calls on the same mount,
// checked for correct answers and counted by the route they took.
#pragma once

#include <string>

namespace finesse::testing {

struct GoodRun {
  int calls = 0;
  int wrong = 0;     // answers that were not what the kernel would say
  int bypassed = 0;  // calls the server answered (not withdrawn to the kernel)
  int64_t slowest_ns = 0;
  // Of the calls that went to the kernel: because the server looked stuck (without asking
  // it; after waiting for it), from finesse_client_stats.
  unsigned long long stalled_skipped = 0, stalled_waited = 0;
};

// mkdir dir/d<i>, stat it, and rmdir every third one, n times. Leaves dir/d<i> for i % 3 != 0.
GoodRun run_good_client(const std::string &dir, int n);
// stat(dir) every millisecond for `ms` milliseconds.
GoodRun run_stat_probe(const std::string &dir, int ms);
// The names run_good_client(dir, n) leaves behind, sorted, one per line.
std::string expected_good_tree(int n);
// The names directly under dir, sorted, one per line.
std::string list_dir(const std::string &dir);

}  // namespace finesse::testing
