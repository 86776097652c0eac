// One memfs inode: attributes plus whatever its type holds (entries, contents, link target).
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>

#include "memfs/file_data.h"

namespace finesse::examples::memfs {

struct Inode {
  struct stat attr {};        // st_ino is the fuse node id; st_size mirrors contents/target
  uint64_t nlookup = 0;       // references the kernel holds: entry/create replies minus forgets
  uint32_t open_handles = 0;  // open file and directory handles
  fuse_ino_t parent = 0;      // directories only: for ".." and the rename subtree check
  std::map<std::string, fuse_ino_t, std::less<>> entries;  // directories only, without . and ..
  FileData contents;                                       // regular files only
  std::string symlink_target;                              // symlinks only
  std::map<std::string, std::string, std::less<>> xattrs;

  fuse_ino_t number() const { return attr.st_ino; }
  bool is_dir() const { return S_ISDIR(attr.st_mode); }
  bool is_regular() const { return S_ISREG(attr.st_mode); }
};

}  // namespace finesse::examples::memfs
