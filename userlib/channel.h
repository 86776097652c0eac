// The client end of the bypass: one connection per attached mount, made lazily on first
// use (and again after fork in the child, after a credential change, after a server
// restart), and the request/wait protocol over a slot of its shared region.
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "absent_xattrs.h"
#include "registry_cache.h"
#include "result.h"
#include "wire.h"

namespace finesse::client {

// What the kernel says about the mount root, fetched once per connection: the parts of
// stat/statx/statfs answers that come from the kernel rather than from the file system.
struct KernelFacts {
  dev_t st_dev;
  uint32_t stx_dev_major, stx_dev_minor;
  uint64_t stx_mnt_id;
  uint64_t stx_attributes_mask;
  uint32_t stx_mask;
  __fsid_t f_fsid;
  long f_flags;
  long f_type;
  uint64_t root_ino;
};

struct Strings {
  const char *path0 = nullptr;
  size_t len0 = 0;
  const char *path1 = nullptr;
  size_t len1 = 0;
  const char *name = nullptr;
  size_t name_len = 0;
  uint32_t xattr_bit = 0;  // wire::xattr_bit(name), for a getxattr
};

// Sends one request and waits for its answer. Returns kToKernel (nothing happened: use the
// kernel), or the server's result (0, -errno, or a byte count). rep gets the Reply, data up
// to cap bytes of the reply's data. facts (optional) gets the mount's kernel facts.
Result channel_call(const MountMatch &m, wire::Op op, wire::Request &req, const Strings &s,
                    bool mutation, wire::Reply *rep, char *data, size_t cap, KernelFacts *facts);

// A request posted and not answered yet: a batch keeps many at once (channel_post), each
// holding a slot and a reference on its connection until channel_reap. Reaped by the thread
// that posted it; a siglongjmp out of the thread's calls meanwhile leaks them.
struct Posted {
  void *conn = nullptr;
  int slot = -1;
  wire::Op op = wire::Op::kStat;
  bool mutation = false;
};
// Posts one request without waiting for it (a sleeping server is woken) and without the
// read-only calls' choice of route (a batch is worth the server). False: nothing was posted,
// the kernel serves the call.
bool channel_post(const MountMatch &m, wire::Op op, wire::Request &req, const Strings &s,
                  bool mutation, Posted *p);
// Waits for p's answer: channel_call's result, rep, data and facts.
Result channel_reap(Posted &p, wire::Reply *rep, char *data, size_t cap, KernelFacts *facts);

// A multi-call request being filled (wire::kBatch): a slot of a connection, taken and
// written before it is posted (channel_pack_post) or given back (channel_pack_drop).
struct Pack {
  void *conn = nullptr;
  int slot = -1;
  uint64_t mnt_id = 0;
  uint32_t count = 0;  // calls in it
  size_t used = 0;     // bytes of the slot's data written
  bool mutation = false;
};
// Takes a slot of mount m's connection for a pack; false: the kernel serves the calls.
bool channel_pack_begin(const MountMatch &m, Pack *p);
// Appends one call (wire::batchable(op)); false when it does not fit.
bool channel_pack_add(Pack &p, wire::Op op, wire::Request &req, const Strings &s, bool mutation);
// Posts the pack (at least one call in it), then held by *posted until channel_reap_pack.
void channel_pack_post(Pack &p, Posted *posted);
void channel_pack_drop(Pack &p);
// Waits for a posted pack's answers and hands each of its count calls' to each(ctx, i, reply,
// the mount's facts) (kFallback: the caller makes that call itself). kToKernel: none was
// served; -ENOTCONN: the server died holding the pack (a mutation among them may have been
// made: never repeat one).
using PackEntryFn = void (*)(void *ctx, uint32_t i, const wire::BatchReply &r,
                             const KernelFacts &facts);
Result channel_reap_pack(Posted &p, uint32_t count, PackEntryFn each, void *ctx);

// Whether the file at rel (below mount m's root) was in this process's latest listing of its
// directory without xattr `bit` (a wire::kXattr* bit), and nothing changed since
// (absent_xattrs.h): then getxattr of that name answers ENODATA without asking anyone.
// through: as AbsentXattrs::absent.
bool channel_known_absent(const MountMatch &m, const char *rel, size_t rel_len, uint32_t bit,
                          bool follow, AbsentXattrs::Through through);

// The attributes of the file at rel (below mount m's root) as this process's latest listing
// of its directory gave them (wire::kEntryAttr), while they hold as channel_known_absent's
// answers do; follow: the call follows a symlink; through: as AbsentXattrs::attr. With them,
// the mount's facts. A stat there that the listing could not answer makes the connection's
// next listings ask for attributes (Conn::attr_credit), whichever route then serves it.
bool channel_listed_attr(const MountMatch &m, const char *rel, size_t rel_len, bool follow,
                         AbsentXattrs::Through through, wire::Attr *attr, KernelFacts *facts);

// A call to mount m's server is expected within microseconds (a directory being opened is
// listed next): a sleeping server is woken now, so that its wake-up overlaps the kernel's
// work before the call instead of delaying the call. Never connects, never waits.
void channel_expect_call(const MountMatch &m);

// Credentials changed (set*id): every connection reconnects before its next request.
void channel_credentials_changed();

// Calls this process sent to the kernel because the server was stuck in a file system call:
// without asking it, and after waiting for it.
void channel_stall_stats(unsigned long long *skipped, unsigned long long *waited);

// The mount's server said that the kernel holds its files' attributes with a timeout
// (wire::kHintKernelCachesAttrs): fstat goes to the kernel, which answers from its cache in
// about a microsecond, less than any bypassed call costs.
bool channel_kernel_caches_attrs(uint64_t mnt_id);
// Every stat answer so far said so (of whichever mount): the shim's fstat goes to the kernel
// without looking the fd up first.
bool channel_kernel_caches_all_attrs();

// The umask the client reports to the server; kept current by the umask() wrapper.
mode_t channel_umask();
void channel_set_umask(mode_t m);

// False in a vfork child: it shares our memory (and its thread's TLS) but not our pid, and
// must change nothing of ours (umask, connections, caches): its calls take the kernel path.
// One getpid system call.
bool channel_in_owner_process();
void channel_set_owner_process();  // at load and in a fork child

// From now on a process's first call on a mount starts the handshake and leaves it to the
// server, and takes the kernel path; the next call finishes it (the shim: a short process
// making one call pays no wait for the server's front door).
void channel_defer_first_handshake();

// This thread's call was abandoned (a siglongjmp out of a signal handler, seen by the caller:
// scratch.h): gives back its connection reference, slot and spinner place.
void channel_recover_abandoned();

// Whether this process ever connected to a server: before that, fd-based calls do not even
// ask the kernel which file system an fd is on.
bool channel_ever_connected();

}  // namespace finesse::client
