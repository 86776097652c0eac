// The permission matrix: every bypassed operation, run by a caller in one role against a
// target and parent with given modes, through the bypass (finesse_*) on one tree and through
// the kernel (libc) on a twin tree. Each case has its own directory so that all cases can be
// prepared first (as root) and then run by one child per caller.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "op_pair.h"

namespace finesse::testing::matrix {

// kGroup: in the owning group through a supplementary group; kPrimaryGroup: as its gid;
// kSetuidOwner: a set-user-ID program of the owner run by another user (real uid other,
// effective uid owner), where access() checks the real ids and everything else the effective.
enum class Role { kOwner, kGroup, kPrimaryGroup, kOther, kRoot, kSetuidOwner };
struct Caller {
  Role role;
  uid_t uid;  // real (and saved) uid
  gid_t gid;
  std::vector<gid_t> groups;
  uid_t euid;
};
// The owner of every target and parent (uid kOwnerUid, group kGroupGid).
constexpr uid_t kOwnerUid = 1000;
constexpr gid_t kGroupGid = 1001;
const std::vector<Caller> &callers();
const char *role_name(Role r);

enum class Op {
  kStat,
  kAccessR,
  kAccessW,
  kAccessX,
  kUnlink,
  kRmdir,
  kMkdir,
  kRenameSameDir,
  kRenameCrossDir,
  kChmod,
  kChownSelf,
  kChownOther,
  kChgrpOwnGroup,
  kTruncate,
  kUtimesNow,
  kChgrpFileGroup,
  kChgrpForeign,
  kUtimesExplicit,
  kReadlink,
  kSymlink,
  kLink,
  kGetxattr,
  kListxattr,
  kStatfs,
  kCount
};
const char *op_name(Op op);

struct Modes {
  mode_t parent;  // may include S_ISVTX
  mode_t target;
};
// The mode combinations: target modes under an open parent, parent modes (with and without
// the sticky bit) over an ordinary target.
const std::vector<Modes> &mode_set();

struct Case {
  Op op;
  Modes modes;
  const Caller *caller;
  std::string dir;  // relative to the tree root: "c<N>"
  std::string text() const;
};

// Creates the case's files under root (as root): dir/p (parent), dir/q (second parent),
// dir/p/t (target: a directory for rmdir, a symlink for readlink, else a file with an xattr).
void prepare(const std::string &root, const Case &c);
// Runs the case's operation through the bypass (true) or the kernel, as the current user.
Outcome run(const std::string &root, const Case &c, bool bypass);

}  // namespace finesse::testing::matrix
