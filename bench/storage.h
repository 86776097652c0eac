// Where the source directory (and the mountpoint next to it) live: ext4 on a RAM-backed loop
// device, tmpfs, or the root disk. The ext4 file system is made and mounted for the run and
// always unmounted again (on destruction, and on a second SIGINT through interrupt.h); its
// image is unlinked as soon as it is mounted, so the memory goes back with the unmount.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace finesse::bench {

struct StorageKind {
  const char *key;    // ext4ram, tmpfs, rootdisk
  const char *label;  // for the tables
};
const std::vector<StorageKind> &storage_kinds();

class Storage {
 public:
  // `files`: how many 4 KB files the run may create at once (sizes the ext4 image).
  // `custom_dir`: for key "dir", the directory to use. Throws std::runtime_error.
  Storage(const std::string &key, size_t files, const std::string &custom_dir = "");
  ~Storage();
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;

  const std::string &key() const { return key_; }
  const std::string &path() const { return path_; }  // a directory to make the work dir in
  std::string label() const;

 private:
  std::string key_, path_;
  bool mounted_ = false;
  int emergency_slot_ = -1;
};

}  // namespace finesse::bench
