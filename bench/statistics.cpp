#include "statistics.h"

#include <algorithm>
#include <cmath>

namespace finesse::bench {
namespace {

// Below this the kernel path adds too little for a ratio of differences to mean anything.
constexpr double kMinOverheadUs = 0.05;

double quantile(const std::vector<double> &sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

Summary summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  s.median = quantile(values, 0.5);
  s.q1 = quantile(values, 0.25);
  s.q3 = quantile(values, 0.75);
  return s;
}

bool overhead_removed(double native, double fuse, double bypass, double *share) {
  if (fuse - native < kMinOverheadUs) return false;
  *share = (fuse - bypass) / (fuse - native);
  return true;
}

}  // namespace finesse::bench
