// The process's current directory as the shim knows it: absolute path, inode and mount id.
// Learned lazily (one getcwd + one statx on the first relative call after start-up or after
// a chdir/fchdir), never asked again while it holds. Things that change the cwd behind our
// back (glibc's fts and nftw use internal fchdir) invalidate it or mark it untrusted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace finesse::shim::cwd_cache {

// The cwd, if known or learnable (BaseProvider contract of resolve.h).
bool base(char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id);
// A chdir/fchdir is about to happen / happened: bump the epoch (call before and after).
void invalidate();
// While > 0 untrusted sections run (nftw with FTW_CHDIR), relative paths go to the kernel.
void enter_untrusted();
void leave_untrusted();

}  // namespace finesse::shim::cwd_cache
