#include "storage.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "child_command.h"
#include "fs_util.h"
#include "interrupt.h"
#include "mount_control.h"

namespace finesse::bench {
namespace {

constexpr const char *kRamParent = "/dev/shm";
constexpr const char *kRootDiskParent = "/var/tmp";  // on the root file system here
constexpr size_t kFileBytes = 4096;
constexpr size_t kInodeAndEntryBytes = 512;          // inode table and directory entry
constexpr size_t kBaseImageBytes = size_t{1} << 30;  // per-op suite, applications, journal
constexpr size_t kBaseInodes = 200'000;

}  // namespace

const std::vector<StorageKind> &storage_kinds() {
  static const std::vector<StorageKind> kinds = {
      {"ext4ram", "ext4 on a RAM-backed loop device (image in /dev/shm)"},
      {"tmpfs", "tmpfs (/dev/shm)"},
      {"rootdisk", "the root disk (/var/tmp: ext4 with discard; informative)"},
  };
  return kinds;
}

Storage::Storage(const std::string &key, size_t files, const std::string &custom_dir) : key_(key) {
  if (key == "tmpfs") {
    path_ = kRamParent;
  } else if (key == "rootdisk") {
    path_ = kRootDiskParent;
  } else if (key == "dir") {
    path_ = custom_dir;
  } else if (key == "ext4ram") {
    path_ = make_temp_dir(kRamParent, "finesse-bench-ext4-");
    const std::string image = path_ + ".img";
    const size_t bytes = kBaseImageBytes + files * (kFileBytes + kInodeAndEntryBytes);
    const size_t inodes = kBaseInodes + files * 5 / 4;
    try {
      run_checked({"truncate", "-s", std::to_string(bytes), image});
      run_checked({"mkfs.ext4", "-q", "-F", "-N", std::to_string(inodes), "-E",
                   "lazy_itable_init=0,lazy_journal_init=0", image});
      run_checked({"mount", "-o", "loop", image, path_});
    } catch (...) {
      unlink(image.c_str());
      rmdir(path_.c_str());
      throw;
    }
    mounted_ = true;
    emergency_slot_ = remember_emergency_mount(path_.c_str(), -1);
    unlink(image.c_str());  // the loop device keeps it open; freed at unmount (autoclear)
  } else {
    throw std::runtime_error("unknown storage '" + key + "' (ext4ram, tmpfs, rootdisk)");
  }
}

Storage::~Storage() {
  if (!mounted_) return;
  for (int attempt = 0; is_mounted(path_); ++attempt) {
    if (umount2(path_.c_str(), 0) == 0) break;
    if (errno != EBUSY || attempt >= 50) {
      umount2(path_.c_str(), MNT_DETACH);
      break;
    }
    usleep(10'000);
  }
  forget_emergency_mount(emergency_slot_);
  rmdir(path_.c_str());
}

std::string Storage::label() const {
  for (const StorageKind &k : storage_kinds()) {
    if (key_ == k.key) return k.label;
  }
  return "directory " + path_;
}

}  // namespace finesse::bench
