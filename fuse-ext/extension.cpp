#include "extension.h"

namespace finesse::server {

Extension &extension() {
  static Extension ext;
  return ext;
}

}  // namespace finesse::server
