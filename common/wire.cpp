#include "wire.h"

namespace finesse::wire {

const char *op_name(Op op) {
  switch (op) {
    case Op::kStat: return "stat";
    case Op::kAccess: return "access";
    case Op::kUnlink: return "unlink";
    case Op::kRmdir: return "rmdir";
    case Op::kMkdir: return "mkdir";
    case Op::kRename: return "rename";
    case Op::kSetattr: return "setattr";
    case Op::kReadlink: return "readlink";
    case Op::kSymlink: return "symlink";
    case Op::kLink: return "link";
    case Op::kStatfs: return "statfs";
    case Op::kGetxattr: return "getxattr";
    case Op::kListxattr: return "listxattr";
    case Op::kCount: break;
  }
  return "unknown";
}

}  // namespace finesse::wire
