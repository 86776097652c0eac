// Order statistics of a handful of repeated measurements.
#pragma once

#include <vector>

namespace finesse::bench {

struct Summary {
  double median = 0, min = 0, max = 0;
  double q1 = 0, q3 = 0;  // quartiles, linear interpolation
};

Summary summarize(std::vector<double> values);  // all zero for no values

// (fuse - bypass) / (fuse - native): the share of the kernel path's overhead the bypass
// removes. Meaningless when the kernel path adds (almost) nothing: returns false then.
bool overhead_removed(double native, double fuse, double bypass, double *share);

}  // namespace finesse::bench
