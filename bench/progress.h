// One self-overwriting progress line on stderr, only when stderr is a terminal.
#pragma once

#include <string>

namespace finesse::bench {

class Progress {
 public:
  explicit Progress(size_t total_steps);
  ~Progress() { clear(); }
  void step(const std::string &what);  // called before each step
  void clear();

 private:
  bool enabled_;
  size_t total_, done_ = 0;
  bool shown_ = false;
};

}  // namespace finesse::bench
