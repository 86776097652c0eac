// The results for people (an aligned text table) and for programs (JSON).
#pragma once

#include <cstdio>
#include <string>

#include "runner.h"

namespace finesse::bench {

void print_table(const RunResult &run, std::FILE *out);
// Throws std::runtime_error if the file cannot be written.
void write_json(const RunResult &run, const std::string &path);

}  // namespace finesse::bench
