#include "absent_xattrs.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "dot_names.h"

namespace finesse::client {

namespace {

uint32_t hash_of(const char *s, size_t n) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (size_t i = 0; i < n; i++) h = (h ^ static_cast<unsigned char>(s[i])) * 16777619u;
  return h;
}

// rel = dir "/" name (or just name below the root): where its name starts, and the length
// of its directory part.
const char *name_in(const char *rel, size_t rel_len) {
  const char *slash = static_cast<const char *>(memrchr(rel, '/', rel_len));
  return slash == nullptr ? rel : slash + 1;
}
size_t dir_len_of(const char *rel, const char *name) {
  return name == rel ? 0 : static_cast<size_t>(name - rel - 1);
}

// A directory as note_listed_dir remembers it (a hash: a collision only makes the next
// listings ask for attributes).
uint64_t dir_key(const char *dir, size_t dir_len) {
  return (uint64_t{hash_of(dir, dir_len)} << 32) | (dir_len + 1);
}

}  // namespace

bool AbsentXattrs::reserve_names(size_t more) {
  if (names_len_ + more <= names_cap_) return true;
  size_t cap = names_cap_ == 0 ? 16384 : names_cap_;
  while (cap < names_len_ + more) cap *= 2;
  auto *p = static_cast<char *>(realloc(names_, cap));
  if (p == nullptr) return false;
  names_ = p;
  names_cap_ = cap;
  return true;
}

bool AbsentXattrs::begin(const char *dir, size_t dir_len, Through listed, Mark mark,
                         int64_t expires_ns, uint64_t stream, const char *entries, size_t len) {
  while (dir_len > 0 && dir[dir_len - 1] == '/') dir_len--;
  if (dir_len >= sizeof(dir_) || !lock()) return false;
  valid_ = false;
  bool any_absent = false;
  if (slots_ == nullptr) slots_ = static_cast<Slot *>(calloc(kSlots, sizeof(Slot)));
  if (slots_ != nullptr && reserve_names(1)) {
    memset(slots_, 0, kSlots * sizeof(Slot));
    used_ = 0;
    attrs_used_ = 0;
    attr_hits_ = 0;
    attrs_judged_ = false;
    names_len_ = 1;  // offset 0 marks an empty slot
    memcpy(dir_, dir, dir_len);
    dir_len_ = dir_len;
    listed_ = listed;
    mark_ = mark;
    expires_ns_ = expires_ns;
    stream_ = stream;
    valid_ = true;
    any_absent = add_locked(entries, len);
  }
  unlock();
  return any_absent;
}

void AbsentXattrs::more(uint64_t stream, const char *entries, size_t len) {
  if (stream == 0 || !lock()) return;
  if (valid_ && stream == stream_) add_locked(entries, len);
  unlock();
}

bool AbsentXattrs::add_locked(const char *entries, size_t len) {
  bool any_absent = false;
  size_t at = 0;
  while (const wire::DirEntry *e = wire::next_dir_entry(entries, len, &at)) {
    const wire::Attr *a = wire::entry_attr(*e);
    if (a != nullptr && attrs_ == nullptr)
      attrs_ = static_cast<wire::Attr *>(malloc(kSlots / 2 * sizeof(wire::Attr)));
    if (attrs_ == nullptr) a = nullptr;
    any_absent |= e->absent != 0;
    if ((e->absent == 0 && a == nullptr) || used_ >= kSlots / 2 || !reserve_names(e->namelen))
      continue;
    uint32_t i = hash_of(e->name, e->namelen) & (kSlots - 1);
    while (slots_[i].name_off != 0) i = (i + 1) & (kSlots - 1);
    memcpy(names_ + names_len_, e->name, e->namelen);
    uint32_t attr = 0;
    if (a != nullptr) {
      memcpy(&attrs_[attrs_used_], a, sizeof(*a));
      attr = ++attrs_used_;
    }
    slots_[i] = Slot{static_cast<uint32_t>(names_len_), e->namelen, e->absent, e->type, attr};
    names_len_ += e->namelen;
    used_++;
  }
  return any_absent;
}

bool AbsentXattrs::any_named(const char *entries, size_t len) {
  size_t at = 0;
  while (const wire::DirEntry *e = wire::next_dir_entry(entries, len, &at)) {
    if (!is_dot_name({e->name, e->namelen})) return true;
  }
  return false;
}

const AbsentXattrs::Slot *AbsentXattrs::find_locked(const char *rel, size_t rel_len,
                                                    Through through, Mark now_mark,
                                                    int64_t now_ns) const {
  const char *name = name_in(rel, rel_len);
  const size_t dir_len = dir_len_of(rel, name);
  const size_t name_len = rel_len - (name - rel);
  const bool of_it = (through.dir_ino == 0 || through.dir_ino == listed_.dir_ino) &&
                     (through.cwd_ino == 0 || through.cwd_ino == listed_.cwd_ino);
  if (!of_it || name_len == 0 || !valid_ || !(mark_ == now_mark) || now_ns >= expires_ns_ ||
      dir_len != dir_len_ || memcmp(rel, dir_, dir_len) != 0)
    return nullptr;
  for (uint32_t i = hash_of(name, name_len) & (kSlots - 1); slots_[i].name_off != 0;
       i = (i + 1) & (kSlots - 1)) {
    const Slot &s = slots_[i];
    if (s.name_len == name_len && memcmp(names_ + s.name_off, name, name_len) == 0) return &s;
  }
  return nullptr;
}

bool AbsentXattrs::absent(const char *rel, size_t rel_len, uint32_t bit, bool follow,
                          Through through, Mark now_mark, int64_t now_ns) {
  if (!lock()) return false;
  const Slot *s = find_locked(rel, rel_len, through, now_mark, now_ns);
  const bool found =
      s != nullptr && (s->bits & bit) && (!follow || s->type == DT_REG || s->type == DT_DIR);
  unlock();
  return found;
}

bool AbsentXattrs::attr(const char *rel, size_t rel_len, bool follow, Through through,
                        Mark now_mark, int64_t now_ns, wire::Attr *out) {
  if (!lock()) return false;
  const Slot *s = find_locked(rel, rel_len, through, now_mark, now_ns);
  const bool found = s != nullptr && s->attr != 0 && !(follow && s->type == DT_LNK);
  if (found) {
    memcpy(out, &attrs_[s->attr - 1], sizeof(*out));
    attr_hits_++;
  }
  unlock();
  return found;
}

void AbsentXattrs::note_listed_dir(const char *dir, size_t dir_len) {
  while (dir_len > 0 && dir[dir_len - 1] == '/') dir_len--;
  if (!lock()) return;
  listed_dir_hash_.store(dir_key(dir, dir_len), std::memory_order_relaxed);
  unlock();
}

bool AbsentXattrs::in_listed_dir(const char *rel, size_t rel_len) {
  const uint64_t h = dir_key(rel, dir_len_of(rel, name_in(rel, rel_len)));
  if (!lock()) return false;
  const bool in = listed_dir_hash_.load(std::memory_order_relaxed) == h;
  unlock();
  return in;
}

bool AbsentXattrs::attrs_went_unused() {
  if (!lock()) return false;
  const bool unused = valid_ && !attrs_judged_ && attrs_used_ > 0 && attr_hits_ == 0;
  if (valid_ && attrs_used_ > 0) attrs_judged_ = true;
  unlock();
  return unused;
}

}  // namespace finesse::client
