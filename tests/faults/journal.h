// A journal of metadata operations and their reported results, and the check of a final tree
// against it. Each worker mutates only names in a directory it owns, drawn from a small pool
// (so names collide: EEXIST, ENOENT, replacing renames). Replaying the journal on a model of
// that directory predicts every result; a reported result the model cannot produce means an
// operation was lost or done twice (a repeated mkdir shows as EEXIST on a call that should have
// succeeded, a repeated rename as ENOENT). Results a fault may cause (e.g. ENOTCONN when the
// daemon dies) are "unknown": the operation may or may not have happened, and the model keeps
// both possibilities until a later result or the final tree decides.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace finesse::testing::journal {

enum class Op : uint8_t {
  kMkdir,
  kRmdir,
  kUnlink,
  kCreate,
  kSymlink,
  kReadlink,
  kChmod,
  kStat,
  kRename,
  kList  // the worker's directory (finesse_opendir...): seen holds the names, sorted
};
const char *op_name(Op op);

struct Entry {
  Op op = Op::kStat;
  std::string a, b;          // names inside the worker's directory (b: rename target)
  uint32_t mode = 0;         // mkdir, create, chmod
  int err = 0;               // 0: success, else the errno the call reported
  bool finished = true;      // false: the worker died before the call returned (unknown result)
  bool after_fault = false;  // the fault flag was set when the call returned
  bool bypassed = false;     // finesse_last_route() said BYPASS
  std::string seen;          // what a stat or readlink returned ("d 755", "l <target>")
};

constexpr int kDefaultPool = 6;  // names per directory

// Runs operations through libfinesse on one directory and records them. Not thread-safe: one
// per thread. With log_fd >= 0 each call is also written there before ("B ...") and after
// ("E ...") it runs, so a journal survives the worker being SIGKILLed mid-call.
class Recorder {
 public:
  Recorder(std::string dir, uint32_t seed, const std::atomic<bool> *fault = nullptr,
           int log_fd = -1, int pool = kDefaultPool);
  // One random operation on the pool's names; returns the errno (0 on success).
  int random_op();
  int run(Op op, const std::string &a, const std::string &b = "", uint32_t mode = 0);
  const std::vector<Entry> &entries() const { return entries_; }
  const std::string &dir() const { return dir_; }

 private:
  std::string dir_;
  std::mt19937 rng_;
  const std::atomic<bool> *fault_;
  int log_fd_;
  int pool_;
  std::vector<Entry> entries_;
};

// The same format for a whole journal (to hand it from a worker process to the test).
std::string format_log(const std::vector<Entry> &entries);
// Parses what a Recorder wrote to its log_fd (a trailing "B" line without its "E": unfinished).
std::vector<Entry> parse_log(const std::string &text);
std::string read_file(const std::string &path);

// Which reported errors may be the fault's rather than the operation's own. They only count
// as unknown when the call returned after the fault (Entry::after_fault).
mode_t process_umask();  // this process's umask (from /proc, without changing it)

struct Policy {
  std::set<int> unknown_errnos;
  mode_t umask = process_umask();  // what mkdir and create were given (workers inherit it)
  // The fault killed the daemon: after a worker's first unknown error nothing it does changes
  // the tree, and what it is told may be the kernel's cached view (a stat answered from the
  // attribute cache, EISDIR from a cached dentry), not the tree's: those calls decide nothing.
  bool fault_ends_the_daemon = false;
};

struct Verdict {
  std::vector<std::string> problems;  // empty: the tree and every result agree
  size_t ops = 0, succeeded = 0, expected_errors = 0, unknown = 0, bypassed = 0;
  std::string summary() const;
};

// Replays `entries` (in order, all on the same directory) and compares the model with the
// directory `real_dir` as it is now (listed with lstat/readdir/readlink: give a source
// directory or a path through the kernel). Names outside the pool the entries use are
// problems too. Adds into *v.
void check(const std::vector<Entry> &entries, const std::string &real_dir, const Policy &policy,
           Verdict *v);

}  // namespace finesse::testing::journal
