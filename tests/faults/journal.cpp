#include "journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "finesse/finesse.h"

namespace finesse::testing::journal {

namespace {

constexpr Op kAllOps[] = {Op::kMkdir,    Op::kRmdir, Op::kUnlink, Op::kCreate, Op::kSymlink,
                          Op::kReadlink, Op::kChmod, Op::kStat,   Op::kRename, Op::kList};

// What one name is: absent ('n'), a directory ('d', always empty: workers create nothing
// inside), a file ('f') or a symlink ('l', to a target that never exists); or anything ('*'):
// after many unknown results the possibilities are too many to track, and the journal only
// keeps what later definite results prove.
struct Node {
  char kind = 'n';
  uint32_t mode = 0;
  std::string target;
  bool operator==(const Node &o) const {
    return kind == o.kind && mode == o.mode && target == o.target;
  }
  std::string str() const {
    if (kind == 'n') return "absent";
    if (kind == '*') return "anything";
    if (kind == 'l') return "symlink->" + target;
    std::ostringstream s;
    s << (kind == 'd' ? "dir " : "file ") << std::oct << mode;
    return s.str();
  }
};

std::string mode_seen(char kind, uint32_t mode) {
  std::ostringstream s;
  s << kind << ' ' << std::oct << (mode & 07777);
  return s.str();
}

struct Outcome {
  int err = 0;
  std::string seen;
  Node a, b;  // the names' states afterwards
};

// The result the kernel gives for `e` on names in states a (and b, for rename).
Outcome predict(const Entry &e, const Node &a, const Node &b, mode_t umask) {
  Outcome o{0, "", a, b};
  switch (e.op) {
    case Op::kStat:  // follows symlinks, whose targets never exist
      if (a.kind == 'n' || a.kind == 'l')
        o.err = ENOENT;
      else
        o.seen = mode_seen(a.kind, a.mode);
      break;
    case Op::kReadlink:
      if (a.kind == 'n')
        o.err = ENOENT;
      else if (a.kind != 'l')
        o.err = EINVAL;
      else
        o.seen = "l " + a.target;
      break;
    case Op::kChmod:
      if (a.kind == 'n' || a.kind == 'l')
        o.err = ENOENT;
      else
        o.a.mode = e.mode & 07777;
      break;
    case Op::kMkdir:
    case Op::kCreate:
      if (a.kind != 'n')
        o.err = EEXIST;
      else
        o.a = Node{e.op == Op::kMkdir ? 'd' : 'f', e.mode & ~umask & 07777, ""};
      break;
    case Op::kSymlink:
      if (a.kind != 'n')
        o.err = EEXIST;
      else
        o.a = Node{'l', 0, e.b};
      break;
    case Op::kRmdir:
      if (a.kind == 'n')
        o.err = ENOENT;
      else if (a.kind != 'd')
        o.err = ENOTDIR;
      else
        o.a = Node{};
      break;
    case Op::kUnlink:
      if (a.kind == 'n')
        o.err = ENOENT;
      else if (a.kind == 'd')
        o.err = EISDIR;
      else
        o.a = Node{};
      break;
    case Op::kRename:
      if (a.kind == 'n')
        o.err = ENOENT;
      else if (a.kind == 'd' && (b.kind == 'f' || b.kind == 'l'))
        o.err = ENOTDIR;
      else if (a.kind != 'd' && b.kind == 'd')
        o.err = EISDIR;
      else {
        o.b = a;
        o.a = Node{};
      }
      break;
    case Op::kList:  // (every name at once: check() handles it)
      break;
  }
  return o;
}

bool mutates(Op op) {
  return op != Op::kStat && op != Op::kReadlink && op != Op::kList;
}

constexpr size_t kMaxStates = 16;  // more possibilities than this for a name: anything
const Node kAnything{'*', 0, ""};

// A step where a name is in the state "anything": every result is possible; a definite one
// still tells what the names are afterwards as far as it can.
void anything_step(const Entry &e, const Node &a, const Node &b, bool unknown, mode_t umask,
                   Node *ra, Node *rb) {
  *ra = a;
  *rb = b;
  if (unknown) {
    if (mutates(e.op)) *ra = *rb = kAnything;
    return;
  }
  if (e.err != 0) return;
  switch (e.op) {
    case Op::kMkdir:
    case Op::kCreate:
    case Op::kSymlink:
      *ra = predict(e, Node{}, b, umask).a;
      break;
    case Op::kRmdir:
    case Op::kUnlink:
      *ra = Node{};
      break;
    case Op::kStat:
      if (e.seen.size() > 2 && (e.seen[0] == 'd' || e.seen[0] == 'f'))
        *ra = Node{e.seen[0], static_cast<uint32_t>(std::stoul(e.seen.substr(2), nullptr, 8)), ""};
      break;
    case Op::kReadlink:
      *ra = Node{'l', 0, e.seen.size() > 2 ? e.seen.substr(2) : ""};
      break;
    case Op::kChmod:
      if (a.kind != '*') ra->mode = e.mode & 07777;
      break;
    case Op::kRename:
      *rb = a;
      *ra = Node{};
      break;
    case Op::kList:
      break;
  }
}

void add_unique(std::vector<Node> *v, const Node &n) {
  if (std::find(v->begin(), v->end(), n) == v->end()) v->push_back(n);
}

std::string describe(const Entry &e) {
  std::string s = std::string(op_name(e.op)) + " " + e.a;
  if (!e.b.empty()) s += " " + e.b;
  if (e.mode) {
    std::ostringstream m;
    m << " " << std::oct << e.mode;
    s += m.str();
  }
  return s;
}

std::string result_str(int err, const std::string &seen) {
  return err == 0 ? "ok" + (seen.empty() ? "" : " (" + seen + ")") : strerrorname_np(err);
}

std::string states_str(const std::vector<Node> &v) {
  std::string s;
  for (const Node &n : v) s += (s.empty() ? "" : " | ") + n.str();
  return s;
}

bool read_real(const std::string &path, Node *n) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode))
    *n = Node{'d', st.st_mode & 07777, ""};
  else if (S_ISREG(st.st_mode))
    *n = Node{'f', st.st_mode & 07777, ""};
  else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t len = readlink(path.c_str(), buf, sizeof(buf));
    *n = Node{'l', 0, std::string(buf, len > 0 ? static_cast<size_t>(len) : 0)};
  } else {
    *n = Node{'?', st.st_mode, ""};
  }
  return true;
}

std::string begin_line(const Entry &e) {
  std::ostringstream line;
  line << "B " << static_cast<int>(e.op) << ' ' << e.a << ' ' << (e.b.empty() ? "-" : e.b) << ' '
       << e.mode << '\n';
  return line.str();
}

std::string end_line(const Entry &e) {
  std::ostringstream line;
  line << "E " << e.err << ' ' << e.after_fault << ' ' << e.bypassed << ' ' << e.seen << '\n';
  return line.str();
}

void write_all(int fd, const std::string &s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

const char *op_name(Op op) {
  switch (op) {
    case Op::kMkdir:
      return "mkdir";
    case Op::kRmdir:
      return "rmdir";
    case Op::kUnlink:
      return "unlink";
    case Op::kCreate:
      return "create";
    case Op::kSymlink:
      return "symlink";
    case Op::kReadlink:
      return "readlink";
    case Op::kChmod:
      return "chmod";
    case Op::kStat:
      return "stat";
    case Op::kRename:
      return "rename";
    case Op::kList:
      return "list";
  }
  return "?";
}

Recorder::Recorder(std::string dir, uint32_t seed, const std::atomic<bool> *fault, int log_fd,
                   int pool)
    : dir_(std::move(dir)), rng_(seed), fault_(fault), log_fd_(log_fd), pool_(pool) {}

int Recorder::random_op() {
  // Weights: reads are frequent; mutations that create and remove keep names colliding.
  static constexpr std::pair<Op, int> kWeights[] = {
      {Op::kStat, 20}, {Op::kMkdir, 12},  {Op::kRmdir, 10},   {Op::kRename, 12}, {Op::kUnlink, 10},
      {Op::kChmod, 8}, {Op::kSymlink, 8}, {Op::kReadlink, 8}, {Op::kCreate, 6},  {Op::kList, 4}};
  int total = 0;
  for (auto &w : kWeights) total += w.second;
  int pick = static_cast<int>(rng_() % static_cast<uint32_t>(total));
  Op op = Op::kStat;
  for (auto &w : kWeights) {
    if (pick < w.second) {
      op = w.first;
      break;
    }
    pick -= w.second;
  }
  auto name = [&] { return "n" + std::to_string(rng_() % static_cast<uint32_t>(pool_)); };
  std::string a = op == Op::kList ? std::string(".") : name(), b;
  uint32_t mode = 0;
  static constexpr uint32_t kChmodModes[] = {0700, 0755, 0644, 0600, 0750};
  switch (op) {
    case Op::kMkdir:
      mode = rng_() % 2 ? 0755 : 0700;
      break;
    case Op::kCreate:
      mode = rng_() % 2 ? 0644 : 0600;
      break;
    case Op::kChmod:
      mode = kChmodModes[rng_() % 5];
      break;
    case Op::kSymlink:
      b = "/nonexistent/finesse-" + std::to_string(rng_() % 1000);
      break;
    case Op::kRename:
      do b = name();
      while (b == a);
      break;
    default:
      break;
  }
  return run(op, a, b, mode);
}

int Recorder::run(Op op, const std::string &a, const std::string &b, uint32_t mode) {
  Entry e;
  e.op = op;
  e.a = a;
  e.b = b;
  e.mode = mode;
  if (log_fd_ >= 0) write_all(log_fd_, begin_line(e));
  const std::string pa = dir_ + "/" + a;
  const std::string pb = op == Op::kRename ? dir_ + "/" + b : "";
  errno = 0;
  int rc = -1;
  char buf[4096];
  struct stat st;
  switch (op) {
    case Op::kMkdir:
      rc = finesse_mkdir(pa.c_str(), mode);
      break;
    case Op::kRmdir:
      rc = finesse_rmdir(pa.c_str());
      break;
    case Op::kUnlink:
      rc = finesse_unlink(pa.c_str());
      break;
    case Op::kCreate: {  // always the kernel's: open is not bypassed
      int fd = ::open(pa.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
      rc = fd < 0 ? -1 : 0;
      if (fd >= 0) ::close(fd);
      break;
    }
    case Op::kSymlink:
      rc = finesse_symlink(b.c_str(), pa.c_str());
      break;
    case Op::kReadlink: {
      ssize_t n = finesse_readlink(pa.c_str(), buf, sizeof(buf));
      rc = n < 0 ? -1 : 0;
      if (n >= 0) e.seen = "l " + std::string(buf, static_cast<size_t>(n));
      break;
    }
    case Op::kChmod:
      rc = finesse_chmod(pa.c_str(), mode);
      break;
    case Op::kStat:
      rc = finesse_stat(pa.c_str(), &st);
      if (rc == 0)
        e.seen = mode_seen(S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : '?', st.st_mode);
      break;
    case Op::kRename:
      rc = finesse_rename(pa.c_str(), pb.c_str());
      break;
    case Op::kList: {
      DIR *d = finesse_opendir(dir_.c_str());
      if (d == nullptr) break;
      std::vector<std::string> names;
      errno = 0;
      while (struct dirent *de = finesse_readdir(d))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
          names.emplace_back(de->d_name);
      rc = errno == 0 ? 0 : -1;
      int err = errno;
      finesse_closedir(d);
      errno = err;
      std::sort(names.begin(), names.end());
      for (const std::string &n : names) e.seen += (e.seen.empty() ? "" : ",") + n;
      break;
    }
  }
  e.err = rc == 0 ? 0 : (errno ? errno : EIO);
  e.bypassed = op != Op::kCreate && finesse_last_route() == FINESSE_ROUTE_BYPASS;
  e.after_fault = fault_ != nullptr && fault_->load();
  if (log_fd_ >= 0) write_all(log_fd_, end_line(e));
  entries_.push_back(std::move(e));
  return entries_.back().err;
}

std::string format_log(const std::vector<Entry> &entries) {
  std::string out;
  for (const Entry &e : entries) {
    out += begin_line(e);
    if (e.finished) out += end_line(e);
  }
  return out;
}

std::vector<Entry> parse_log(const std::string &text) {
  std::vector<Entry> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    char tag = 0;
    l >> tag;
    if (tag == 'B') {
      Entry e;
      int op = 0;
      l >> op >> e.a >> e.b >> e.mode;
      if (!l || op < 0 || op > static_cast<int>(Op::kList)) break;  // torn last line
      e.op = kAllOps[op];
      if (e.b == "-") e.b.clear();
      e.finished = false;
      out.push_back(std::move(e));
    } else if (tag == 'E' && !out.empty() && !out.back().finished) {
      Entry &e = out.back();
      l >> e.err >> e.after_fault >> e.bypassed;
      if (!l) break;
      l.get();  // the separator before `seen`
      std::getline(l, e.seen);
      e.finished = true;
    }
  }
  return out;
}

mode_t process_umask() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Umask:", 0) == 0)
      return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  return 022;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Verdict::summary() const {
  std::ostringstream s;
  s << ops << " ops: " << succeeded << " ok, " << expected_errors << " expected errors, " << unknown
    << " unknown, " << bypassed << " bypassed, " << problems.size() << " problems";
  return s.str();
}

void check(const std::vector<Entry> &entries, const std::string &real_dir, const Policy &policy,
           Verdict *v) {
  std::map<std::string, std::vector<Node>> model;  // each name: the states it may be in
  auto states = [&](const std::string &name) -> std::vector<Node> & {
    auto it = model.find(name);
    if (it == model.end()) it = model.emplace(name, std::vector<Node>{Node{}}).first;
    return it->second;
  };
  // The last operations on each name, for the problem reports.
  std::map<std::string, std::vector<std::string>> history;
  auto remember = [&](const std::string &name, size_t i, const Entry &e) {
    auto &h = history[name];
    h.push_back("#" + std::to_string(i) + " " + describe(e) + " -> " + result_str(e.err, e.seen) +
                (e.bypassed ? " [bypass]" : " [kernel]"));
    if (h.size() > 8) h.erase(h.begin());
  };
  auto recent = [&](const std::string &name) {
    std::string s;
    for (const std::string &h : history[name]) s += "; " + h;
    return s;
  };
  auto problem = [&](const std::string &p) {
    if (v->problems.size() < 30)
      v->problems.push_back(real_dir + ": " + p);
    else if (v->problems.size() == 30)
      v->problems.push_back("(more problems left out)");
  };
  // A listing: every name listed may exist, every name of the model not listed may be
  // absent; what it shows narrows the model (a failed or unknown one tells nothing).
  auto check_listing = [&](const Entry &e, size_t i, bool unknown) {
    if (unknown) {
      v->unknown++;
      return;
    }
    if (e.err != 0) {
      v->expected_errors++;  // (the directory is always there: an error is a fault's)
      return;
    }
    v->succeeded++;
    std::set<std::string> listed;
    for (size_t at = 0; at < e.seen.size();) {
      size_t comma = e.seen.find(',', at);
      if (comma == std::string::npos) comma = e.seen.size();
      listed.insert(e.seen.substr(at, comma - at));
      at = comma + 1;
    }
    for (const std::string &name : listed) states(name);  // (an unknown name: absent so far)
    for (auto &[name, possible] : model) {
      const bool here = listed.count(name) != 0;
      std::vector<Node> keep;
      for (const Node &n : possible)
        if (n.kind == '*' || (n.kind != 'n') == here)
          add_unique(&keep, here || n.kind != '*' ? n : Node{});
      if (keep.empty()) {
        problem("op " + std::to_string(i) + " (list): " + name +
                (here ? " listed" : " not listed") + ", the model has it " + states_str(possible) +
                "; before, on it" + recent(name));
        continue;
      }
      possible = keep;
    }
  };
  bool daemon_gone = false;  // policy.fault_ends_the_daemon, and this worker met its end
  for (size_t i = 0; i < entries.size(); i++) {
    const Entry &e = entries[i];
    v->ops++;
    if (e.bypassed) v->bypassed++;
    const bool fault = e.after_fault && policy.unknown_errnos.count(e.err) != 0;
    const bool unknown = !e.finished || fault;
    const bool two = e.op == Op::kRename;
    if (daemon_gone) {
      v->unknown++;
      remember(e.a, i, e);
      if (two) remember(e.b, i, e);
      continue;
    }
    if (fault && e.finished && policy.fault_ends_the_daemon) daemon_gone = true;
    if (e.op == Op::kList) {
      check_listing(e, i, unknown);
      continue;
    }
    std::vector<Node> &sa = states(e.a);
    std::vector<Node> empty_b{Node{}};
    std::vector<Node> &sb = two ? states(e.b) : empty_b;
    std::vector<Node> na, nb;
    std::string expected;
    for (const Node &a : sa)
      for (const Node &b : sb) {
        if (a.kind == '*' || b.kind == '*') {
          Node ra, rb;
          anything_step(e, a, b, unknown, policy.umask, &ra, &rb);
          add_unique(&na, ra);
          add_unique(&nb, rb);
          continue;
        }
        Outcome o = predict(e, a, b, policy.umask);
        if (unknown) {
          add_unique(&na, a);
          add_unique(&nb, b);
          if (o.err == 0 && mutates(e.op)) {
            add_unique(&na, o.a);
            add_unique(&nb, o.b);
          }
        } else if (o.err == e.err && (e.err != 0 || o.seen == e.seen)) {
          add_unique(&na, o.a);
          add_unique(&nb, o.b);
        } else {
          expected += (expected.empty() ? "" : " or ") + result_str(o.err, o.seen);
        }
      }
    if (unknown)
      v->unknown++;
    else if (e.err == 0)
      v->succeeded++;
    else
      v->expected_errors++;
    if (na.empty()) {
      if (!unknown && e.err == 0) v->succeeded--;
      if (!unknown && e.err != 0) v->expected_errors--;
      problem("op " + std::to_string(i) + " (" + describe(e) + "): reported " +
              result_str(e.err, e.seen) + (e.bypassed ? " [bypass]" : " [kernel]") +
              ", the model expects " + expected + " (" + e.a + ": " + states_str(sa) +
              (two ? ", " + e.b + ": " + states_str(sb) : "") + "); before, on " + e.a +
              recent(e.a));
      remember(e.a, i, e);
      if (two) remember(e.b, i, e);
      continue;  // keep the model as it was
    }
    remember(e.a, i, e);
    if (two) remember(e.b, i, e);
    if (na.size() > kMaxStates) na = {kAnything};
    if (nb.size() > kMaxStates) nb = {kAnything};
    sa = na;
    if (two) sb = nb;
  }
  // The final tree: every name the model knows in one of its possible states, nothing else.
  std::set<std::string> real_names;
  if (DIR *d = opendir(real_dir.c_str())) {
    while (dirent *de = readdir(d))
      if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
        real_names.insert(de->d_name);
    closedir(d);
  } else {
    problem(std::string("cannot list: ") + strerror(errno));
    return;
  }
  for (const std::string &name : real_names)
    if (model.count(name) == 0) problem("unexpected name " + name);
  for (const auto &[name, possible] : model) {
    Node real;
    if (real_names.count(name) && !read_real(real_dir + "/" + name, &real))
      problem("lstat " + name + ": " + strerror(errno));
    if (std::find(possible.begin(), possible.end(), real) == possible.end() &&
        std::find(possible.begin(), possible.end(), kAnything) == possible.end())
      problem("final " + name + " is " + real.str() + ", the journal allows " +
              states_str(possible) + "; last on it" + recent(name));
  }
}

}  // namespace finesse::testing::journal
