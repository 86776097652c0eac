// A node's attributes as the client gets them (wire::Attr), as the kernel reports them.
#pragma once

#include <sys/stat.h>

#include "wire.h"

namespace finesse::server {

void to_wire(const struct stat &st, wire::Attr *a);

}  // namespace finesse::server
