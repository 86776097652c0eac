#include "xattr_absence.h"

#include "clock.h"
#include "wire.h"

namespace finesse::server {

bool absent_xattr(const CallCtx &call, fuse_ino_t ino, mode_t mode, uint32_t bit) {
  const bool acl = bit != wire::kXattrSelinux;
  if (acl && !S_ISREG(mode) && !S_ISDIR(mode)) return false;
  size_t len = 0;
  Result rc = fs_getxattr(call, ino, wire::xattr_name(bit), 0, nullptr, &len);
  return rc.is_error(ENODATA) || (acl && rc.ok() && len == 0);
}

namespace {

bool same_attr(fuse_ino_t a_ino, ino_t a_st_ino, mode_t a_mode, const timespec &a_ctime,
               fuse_ino_t ino, const struct stat &attr) {
  return a_ino == ino && a_st_ino == attr.st_ino && a_mode == attr.st_mode &&
         a_ctime.tv_sec == attr.st_ctim.tv_sec && a_ctime.tv_nsec == attr.st_ctim.tv_nsec;
}

}  // namespace

bool AbsentXattrMemo::find(fuse_ino_t ino, const struct stat &attr, uint32_t want, uint8_t *absent,
                           int64_t *valid_ns) {
  const uint64_t now_epoch = epoch();
  std::lock_guard<std::mutex> g(mu_);
  if (slots_.empty()) return false;
  const Answer &a = slots_[ino % kSlots];
  if (!same_attr(a.ino, a.st_ino, a.mode, a.ctime, ino, attr) || a.epoch != now_epoch ||
      (want & ~uint32_t{a.asked}) != 0)
    return false;
  const int64_t now = now_ns();
  if (now >= a.expires_ns) return false;
  *absent = static_cast<uint8_t>(a.absent & want);
  *valid_ns = a.expires_ns - now;
  return true;
}

void AbsentXattrMemo::record(fuse_ino_t ino, const struct stat &attr, uint8_t asked, uint8_t absent,
                             uint64_t epoch, int64_t expires_ns) {
  std::lock_guard<std::mutex> g(mu_);
  if (slots_.empty()) slots_.resize(kSlots);
  Answer &a = slots_[ino % kSlots];
  a = Answer{ino, attr.st_ino, attr.st_mode, attr.st_ctim, epoch, expires_ns, asked, absent};
}

}  // namespace finesse::server
