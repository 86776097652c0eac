// Where the built binaries live, and the names of the sample file systems.
#include <cstdlib>
#include <string>

#include "harness.h"

#ifndef FINESSE_BUILD_DIR
#error "FINESSE_BUILD_DIR must be defined by the build"
#endif

namespace finesse::testing {
namespace {

// The environment wins so an installed or relocated build tree can still be tested.
std::string build_dir() {
  if (const char *env = std::getenv("FINESSE_BUILD_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return FINESSE_BUILD_DIR;
}

}  // namespace

std::string bin_dir() {
  return build_dir() + "/bin";
}
std::string lib_dir() {
  return build_dir() + "/lib";
}

std::string fs_name(FsKind kind) {
  switch (kind) {
    case FsKind::kMemfs:
      return "memfs";
    case FsKind::kPassthrough:
      return "passthrough";
    case FsKind::kHighLevel:
      return "hlfs";
  }
  return "unknown";
}

}  // namespace finesse::testing
