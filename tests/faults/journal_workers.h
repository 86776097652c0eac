// Threads that each run a journal::Recorder on a directory of their own (<root>/w<i>) until
// told to stop, and the check of all their journals against a final tree.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "journal.h"

namespace finesse::testing::journal {

class Workers {
 public:
  // Creates <root>/w<first>.. w<first+n-1> with plain mkdir (through the kernel).
  Workers(const std::string &root, int n, const std::atomic<bool> *fault, uint32_t seed = 1,
          int first = 0);
  ~Workers();  // stops and joins
  void start();
  void stop() { stop_ = true; }
  // Stops, then waits for every thread to return; false if one has not within `bound`
  // (the caller must unblock it, e.g. by killing the daemon, and call join()).
  bool stop_and_wait(std::chrono::milliseconds bound);
  void join();
  // Waits until every thread has run `n` more operations than when called (false: timeout).
  bool each_runs(long n, std::chrono::milliseconds bound);
  long ops() const;
  int size() const { return static_cast<int>(slots_.size()); }
  const Recorder &recorder(int i) const { return *slots_[i]->rec; }
  // Checks every journal against <real_root>/w<i>.
  Verdict check(const std::string &real_root, const Policy &policy) const;

 private:
  struct Slot {
    std::unique_ptr<Recorder> rec;
    std::atomic<long> ops{0};
    std::atomic<bool> done{false};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::string> names_;
  std::atomic<bool> stop_{false};
};

}  // namespace finesse::testing::journal
