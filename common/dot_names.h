// "." and "..": names a directory lists and a path may hold, which name no entry of their own
// (the kernel resolves them physically; listings and walks treat them apart).
#pragma once

#include <cstddef>
#include <string_view>

namespace finesse {

constexpr bool is_dot_name(std::string_view name) {
  return name == "." || name == "..";
}

}  // namespace finesse
