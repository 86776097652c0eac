#include "dir_listing.h"

#include <dirent.h>
#include <linux/fuse.h>
#include <string.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>

#include "clock.h"
#include "dot_names.h"
#include "fs_call.h"
#include "wire.h"
#include "wire_attr.h"
#include "xattr_absence.h"

namespace finesse::server {

namespace {

// What one readdir call asks the file system for: as much as a reply holds, in the pages
// the kernel would ask for.
constexpr size_t kChunk = 16384;
// Entries past this many are read without attributes: a huge directory would only churn
// the cache (the kernel's READDIRPLUS_AUTO likewise stops asking for them).
constexpr size_t kPlusEntries = 4096;

double seconds(uint64_t s, uint32_t ns) {
  return static_cast<double>(s) + ns / 1e9;
}

fuse_entry_param entry_of(const fuse_entry_out &o) {
  fuse_entry_param e{};
  e.ino = o.nodeid;
  e.generation = o.generation;
  e.entry_timeout = seconds(o.entry_valid, o.entry_valid_nsec);
  e.attr_timeout = seconds(o.attr_valid, o.attr_valid_nsec);
  const fuse_attr &a = o.attr;
  e.attr.st_ino = a.ino;
  e.attr.st_mode = a.mode;
  e.attr.st_nlink = a.nlink;
  e.attr.st_uid = a.uid;
  e.attr.st_gid = a.gid;
  e.attr.st_rdev = a.rdev;
  e.attr.st_size = static_cast<off_t>(a.size);
  e.attr.st_blocks = static_cast<blkcnt_t>(a.blocks);
  e.attr.st_blksize = a.blksize;
  e.attr.st_atim = {static_cast<time_t>(a.atime), a.atimensec};
  e.attr.st_mtim = {static_cast<time_t>(a.mtime), a.mtimensec};
  e.attr.st_ctim = {static_cast<time_t>(a.ctime), a.ctimensec};
  return e;
}

// The xattrs of want (wire::kXattr* bits) that entry e, of type d_type, has none of, as the
// bypass answers them (absent_xattr), and in *valid_ns for how long. Asked only where the file
// system's d_type agrees with the entry's attributes (a getxattr that follows a symlink must
// not be answered from it) and it gave them a timeout; the file system is asked again only
// when the memo's answer no longer holds.
uint8_t absent_xattrs(ServeCtx &ctx, const fuse_entry_param &e, uint8_t d_type, uint32_t want,
                      int64_t *valid_ns) {
  if (IFTODT(e.attr.st_mode) != d_type || e.attr_timeout <= 0) return 0;
  uint8_t bits = 0;
  int64_t memo_ns = 0;
  if (ctx.absent_memo != nullptr && ctx.absent_memo->find(e.ino, e.attr, want, &bits, &memo_ns)) {
    *valid_ns = std::min(*valid_ns, memo_ns);
    return bits;
  }
  const uint64_t epoch = ctx.absent_memo != nullptr ? ctx.absent_memo->epoch() : 0;
  const int64_t asked_ns = now_ns();
  for (uint32_t bit : {wire::kXattrSelinux, wire::kXattrAclAccess, wire::kXattrAclDefault}) {
    if ((want & bit) && absent_xattr(ctx.call(), e.ino, e.attr.st_mode, bit)) bits |= bit;
  }
  const auto ttl_ns = static_cast<int64_t>(e.attr_timeout * 1e9);
  if (ctx.absent_memo != nullptr)
    ctx.absent_memo->record(e.ino, e.attr, static_cast<uint8_t>(want), bits, epoch,
                            asked_ns + ttl_ns);
  return bits;
}

// attr (optional): the entry's fresh attributes.
void append(EntryBytes *out, const fuse_dirent &d, uint8_t absent, const struct stat *attr) {
  size_t at = out->size();
  out->resize(at + wire::dir_entry_size(d.namelen, attr != nullptr));
  auto *w = reinterpret_cast<wire::DirEntry *>(out->data() + at);
  w->ino = d.ino;
  w->off = d.off;
  w->namelen = static_cast<uint16_t>(d.namelen);
  w->type = static_cast<uint8_t>(d.type);
  w->absent = absent;
  w->flags = attr != nullptr ? wire::kEntryAttr : 0;
  memset(w->pad, 0, sizeof(w->pad));
  memcpy(w->name, d.name, d.namelen);
  w->name[d.namelen] = '\0';
  if (attr != nullptr) {
    wire::Attr a{};
    to_wire(*attr, &a);
    memcpy(out->data() + at + wire::dir_entry_size(d.namelen), &a, sizeof(a));
  }
}

// Appends the entries of one reply; *last_off gets the last one's offset, *count is raised
// by the entries appended. False: a reply the kernel would reject (an entry overrunning it, a
// name with '/' or NUL or too long). Every readdirplus entry holds a lookup, as the kernel
// counts them (fuse_direntplus_link: none for "." and "..", nor for node 0): kept in the
// cache, or forgotten at the request's end (pinned while their xattrs are asked). want:
// the kXattr* bits and kListAttrs asked of each entry.
bool parse(ServeCtx &ctx, fuse_ino_t dir, const char *buf, size_t len, bool plus, uint64_t gen,
           uint32_t want, EntryBytes *out, uint64_t *last_off, size_t *count,
           uint64_t *absent_valid_ns, int64_t *fresh_until) {
  const uint32_t absent_want = want & wire::kXattrAll;
  bool ok = true;
  while (len > 0) {
    const fuse_dirent *d;
    const fuse_entry_out *eo = nullptr;
    size_t reclen;
    if (plus) {
      if (len < FUSE_NAME_OFFSET_DIRENTPLUS) return false;
      auto *dp = reinterpret_cast<const fuse_direntplus *>(buf);
      eo = &dp->entry_out;
      d = &dp->dirent;
      reclen = FUSE_DIRENTPLUS_SIZE(dp);
    } else {
      if (len < FUSE_NAME_OFFSET) return false;
      d = reinterpret_cast<const fuse_dirent *>(buf);
      reclen = FUSE_DIRENT_SIZE(d);
    }
    std::string_view name;
    if (reclen <= len) name = std::string_view(d->name, d->namelen);
    bool valid = reclen <= len && d->namelen > 0 && d->namelen <= wire::kNameMax &&
                 name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
    if (!valid) {
      // The kernel stops here with EIO; entries before were taken (their lookups, too).
      ok = false;
      break;
    }
    uint8_t absent = 0;
    fuse_entry_param e{};
    bool have_node = false;  // e holds a lookup, which the cache is to keep
    bool cached = false;     // e is the cache's (pinned)
    const bool dots = is_dot_name(name);
    const int64_t now = now_ns();
    if (eo != nullptr && eo->nodeid != 0 && !dots) {
      e = entry_of(*eo);
      have_node = true;
      const int64_t until = now + static_cast<int64_t>(e.attr_timeout * 1e9);
      if (*fresh_until == 0 || until < *fresh_until) *fresh_until = until;
    } else if (eo == nullptr && want != 0 && !dots) {
      // Plain readdir (a directory listed with attributes moments ago, a file system without
      // readdirplus, or past kPlusEntries): the entry's node and attributes, fresh in the
      // cache or given by a lookup as the kernel's stat would get them.
      CacheHit hit = ctx.cache->find(dir, name, now, &ctx.pins);
      if (hit.kind == CacheHit::kPositive && hit.attr_fresh) {
        e.ino = hit.ino;
        e.attr = hit.attr;
        e.attr_timeout = static_cast<double>(hit.attr_expiry - now) / 1e9;
        cached = true;
      } else {
        const std::string n(name);
        have_node = fs_lookup(ctx.call(), dir, n.c_str(), &e).ok() && e.ino != 0;
      }
    }
    if (have_node)
      ctx.cache->insert(dir, name, e, gen, now, &ctx.forgets,
                        absent_want != 0 ? &ctx.pins : nullptr);
    // Attributes go with the entry only where they agree with its type and may be cached.
    const bool usable =
        (have_node || cached) && IFTODT(e.attr.st_mode) == d->type && e.attr_timeout > 0;
    const bool with_attr = usable && (want & wire::kListAttrs) &&
                           !ctx.mount->kernel_owns_attrs(e.attr.st_mode);
    if (usable) {
      int64_t valid_ns = static_cast<int64_t>(e.attr_timeout * 1e9);
      if (absent_want != 0)
        absent = absent_xattrs(ctx, e, static_cast<uint8_t>(d->type), absent_want, &valid_ns);
      if (absent != 0 || with_attr) {
        const auto ns = static_cast<uint64_t>(valid_ns);
        if (*absent_valid_ns == 0 || ns < *absent_valid_ns) *absent_valid_ns = ns;
      }
    }
    append(out, *d, absent, with_attr ? &e.attr : nullptr);
    ++*count;
    *last_off = d->off;
    buf += reclen;
    len -= reclen;
  }
  return ok;
}

}  // namespace

Result read_directory(ServeCtx &ctx, fuse_ino_t dir, uint64_t off, uint32_t want, EntryBytes *out,
                      uint64_t *absent_valid_ns) {
  *absent_valid_ns = 0;
  // readdirplus only where its lookups can be kept: below a node of the cache (a directory
  // known only by the kernel's node would have them all forgotten at the request's end),
  // or where the entries' xattrs are asked for (their nodes are needed for that); and not
  // again while the entries of the last such listing are fresh in the cache: a readdirplus
  // costs the file system a lookup per entry, and the server a forget of each one it holds.
  const bool has_plus = ctx.fs->ops.readdirplus != nullptr &&
                        (ctx.cache->holds(dir) || want != 0) &&
                        !ctx.cache->listed_recently(dir, now_ns());
  if (!has_plus && ctx.fs->ops.readdir == nullptr) return kToKernel;
  fuse_file_info fi{};
  fi.flags = O_RDONLY | O_DIRECTORY;
  Result rc = fs_opendir(ctx.call(), dir, &fi);
  if (!rc.ok()) return rc.is_error(ENOSYS) ? kToKernel : rc;
  std::vector<char> buf(kChunk);
  size_t entries = 0;
  int64_t fresh_until = 0;  // the entries' attributes read with readdirplus
  const bool whole = off == 0;
  for (;;) {
    bool plus = has_plus && entries < kPlusEntries;
    uint64_t gen = ctx.cache->generation();
    size_t len = 0;
    rc = fs_readdir(ctx.call(), dir, kChunk, static_cast<off_t>(off), &fi, plus, buf.data(),
                    buf.size(), &len);
    if (!rc.ok() || len == 0) break;
    size_t before = entries;
    const uint32_t asked = entries < kPlusEntries ? want : 0;
    if (!parse(ctx, dir, buf.data(), len, plus, gen, asked, out, &off, &entries, absent_valid_ns,
               &fresh_until)) {
      rc = -EIO;
      break;
    }
    if (entries == before) break;  // no entry: the end
    if (out->size() > Listings::kMaxBytes) {
      rc = kToKernel;
      break;
    }
  }
  fs_releasedir(*ctx.fs, dir, &fi);
  if (rc.is_error(ENOSYS)) return kToKernel;
  if (rc.ok() && has_plus && whole && entries <= kPlusEntries && fresh_until != 0)
    ctx.cache->note_listed(dir, fresh_until);
  return rc;
}

size_t copy_entries(const EntryBytes &bytes, size_t *pos, char *out, size_t cap) {
  size_t n = 0;
  while (*pos < bytes.size()) {
    auto *e = reinterpret_cast<const wire::DirEntry *>(bytes.data() + *pos);
    size_t sz = wire::entry_size(*e);
    if (n + sz > cap) break;
    memcpy(out + n, e, sz);
    n += sz;
    *pos += sz;
  }
  return n;
}

bool ListingBudget::take(size_t n) {
  size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + n > kMaxBytes) return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

uint64_t Listings::keep(EntryBytes bytes, size_t pos, ListingBudget *budget) {
  std::lock_guard<std::mutex> g(mu_);
  if (kept_.size() >= kMaxListings || bytes_ + bytes.size() > kMaxBytes) return 0;
  if (budget_ != nullptr && budget_ != budget) return 0;  // (one daemon, one budget)
  if (!budget->take(bytes.size())) return 0;
  budget_ = budget;
  uint64_t id = next_++;
  bytes_ += bytes.size();
  kept_[id] = Kept{std::move(bytes), pos};
  return id;
}

bool Listings::take(uint64_t id, char *out, size_t cap, size_t *len, bool *end) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = kept_.find(id);
  if (it == kept_.end()) return false;
  *len = copy_entries(it->second.bytes, &it->second.pos, out, cap);
  *end = it->second.pos >= it->second.bytes.size();
  if (*end) erase_locked(it);
  return true;
}

void Listings::drop(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = kept_.find(id);
  if (it != kept_.end()) erase_locked(it);
}

void Listings::clear() {
  std::lock_guard<std::mutex> g(mu_);
  while (!kept_.empty()) erase_locked(kept_.begin());
}

void Listings::erase_locked(std::unordered_map<uint64_t, Kept>::iterator it) {
  bytes_ -= it->second.bytes.size();
  budget_->give(it->second.bytes.size());
  kept_.erase(it);
}

}  // namespace finesse::server
