// Small helpers shared by the harness sources.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "internal.h"

namespace finesse::testing {

bool emulated() {
  const char *e = getenv("FINESSE_TEST_EMULATED");
  return e != nullptr && atoi(e) != 0;
}

}  // namespace finesse::testing

namespace finesse::testing::detail {

std::string read_text_file(const std::string &path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool process_gone(pid_t pid) {
  return pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH);
}

void sleep_for(std::chrono::milliseconds ms) {
  std::this_thread::sleep_for(ms);
}

}  // namespace finesse::testing::detail
