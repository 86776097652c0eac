/* The operations the bypass serves, one list for every side that numbers them: the wire
 * protocol's wire::Op and its names (common/wire.h), and the BPF missed-call counters'
 * enum finesse_track_op (bpf/finesse_track.h), whose numbers are the same so that the loader
 * can put a mount's served and missed figures side by side. The numbers are ABI (the shared
 * region, the pinned "missed" map): append, never renumber. Plain C, no includes.
 *
 * X(number, CamelName, lower_name, UPPER_NAME) */
#ifndef FINESSE_OP_LIST_H
#define FINESSE_OP_LIST_H

#define FINESSE_OPS(X)                   \
  X(1, Stat, stat, STAT)                 \
  X(2, Access, access, ACCESS)           \
  X(3, Unlink, unlink, UNLINK)           \
  X(4, Rmdir, rmdir, RMDIR)              \
  X(5, Mkdir, mkdir, MKDIR)              \
  X(6, Rename, rename, RENAME)           \
  X(7, Setattr, setattr, SETATTR)        \
  X(8, Readlink, readlink, READLINK)     \
  X(9, Symlink, symlink, SYMLINK)        \
  X(10, Link, link, LINK)                \
  X(11, Statfs, statfs, STATFS)          \
  X(12, Getxattr, getxattr, GETXATTR)    \
  X(13, Listxattr, listxattr, LISTXATTR) \
  X(14, Readdir, readdir, READDIR)       \
  X(15, Batch, batch, BATCH)
/* One past the highest number. */
#define FINESSE_OP_END 16

#endif /* FINESSE_OP_LIST_H */
