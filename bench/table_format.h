// Number formatting shared by the text tables.
#pragma once

#include <cstdio>
#include <string>

#include "statistics.h"

namespace finesse::bench {

// Three significant digits or so, whatever the magnitude.
inline std::string us(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
  return buf;
}

inline std::string spread(const Summary &s) {
  return us(s.median) + " [" + us(s.min) + "-" + us(s.max) + "]";
}

inline std::string ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fx", v);
  return buf;
}

}  // namespace finesse::bench
