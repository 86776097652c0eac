// Shared by the shim suites: running a program with and without libfinesse_preload.so.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace finesse::testing {

inline std::string preload_lib() {
  return lib_dir() + "/libfinesse_preload.so";
}
inline std::map<std::string, std::string> with_shim() {
  return {{"LD_PRELOAD", preload_lib()}};
}

inline std::vector<std::string> lines_of(const std::string &s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Number of differing lines (the first few are printed to stderr).
inline int diff_lines(const std::string &shim, const std::string &kernel) {
  std::vector<std::string> a = lines_of(shim), b = lines_of(kernel);
  int bad = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()); i++) {
    std::string x = i < a.size() ? a[i] : "<missing>", y = i < b.size() ? b[i] : "<missing>";
    if (x == y) continue;
    if (++bad <= 10)
      fprintf(stderr, "line %zu:\n  shim:   %s\n  kernel: %s\n", i, x.c_str(), y.c_str());
  }
  return bad;
}

}  // namespace finesse::testing
