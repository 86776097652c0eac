#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace finesse::bench {

Progress::Progress(size_t total_steps)
    : enabled_(isatty(STDERR_FILENO) == 1), total_(total_steps == 0 ? 1 : total_steps) {}

void Progress::step(const std::string &what) {
  if (!enabled_) return;
  const unsigned percent = static_cast<unsigned>(100 * done_++ / total_);
  std::fprintf(stderr, "\r\033[K%3u%%  %s", percent, what.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void Progress::clear() {
  if (!enabled_ || !shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace finesse::bench
