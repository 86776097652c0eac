// Differential test: one script of operations (many of them failing on purpose) runs on a
// plain directory of the host file system -- the oracle -- and on the FUSE mount. Results
// (errno, data, attributes) and the final tree must be identical.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

// One step: does something below `root` and describes the outcome.
struct Step {
  const char *what;
  std::function<std::string(const std::string &root)> run;
};

std::string result(long rc) {
  return rc < 0 ? errno_name(errno) : "ok";
}

std::string attrs(const std::string &path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return errno_name(errno);
  std::ostringstream out;
  out << std::oct << st.st_mode << std::dec << " nlink=" << st.st_nlink;
  if (!S_ISDIR(st.st_mode)) out << " size=" << st.st_size;  // directory sizes vary by fs
  out << " uid=" << st.st_uid << " gid=" << st.st_gid;
  return out.str();
}

std::string contents(const std::string &path) {
  try {
    return "'" + read_file(path) + "'";
  } catch (const std::exception &) {
    return errno_name(errno);
  }
}

std::string xattr_list(const std::string &path) {
  char buffer[4096];
  const ssize_t n = llistxattr(path.c_str(), buffer, sizeof buffer);
  if (n < 0) return errno_name(errno);
  std::vector<std::string> names;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(buffer + i)) + 1) {
    names.push_back(buffer + i);
  }
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const auto &name : names) joined += name + ";";
  return joined;
}

std::string create(const std::string &path, const std::string &data, int flags, mode_t mode) {
  const int fd = open(path.c_str(), flags | O_WRONLY, mode);
  if (fd < 0) return errno_name(errno);
  const bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  return ok ? "ok" : "short write";
}

std::string rename2(const std::string &r, const char *from, const char *to, unsigned flags) {
  return result(renameat2(AT_FDCWD, (r + from).c_str(), AT_FDCWD, (r + to).c_str(), flags));
}

const std::vector<Step> &script() {
  static const std::string long_name(256, 'x');
  static const std::vector<Step> steps = {
      {"mkdir a", [](auto r) { return result(mkdir((r + "/a").c_str(), 0755)); }},
      {"mkdir a again", [](auto r) { return result(mkdir((r + "/a").c_str(), 0755)); }},
      {"create a/f", [](auto r) { return create(r + "/a/f", "hello", O_CREAT | O_EXCL, 0644); }},
      {"create a/f excl", [](auto r) { return create(r + "/a/f", "", O_CREAT | O_EXCL, 0644); }},
      {"mkdir a/f/x", [](auto r) { return result(mkdir((r + "/a/f/x").c_str(), 0755)); }},
      {"mkdir a/sub", [](auto r) { return result(mkdir((r + "/a/sub").c_str(), 0700)); }},
      {"attrs a", [](auto r) { return attrs(r + "/a"); }},
      {"rmdir a", [](auto r) { return result(rmdir((r + "/a").c_str())); }},
      {"unlink a", [](auto r) { return result(unlink((r + "/a").c_str())); }},
      {"link a/f a/g",
       [](auto r) { return result(link((r + "/a/f").c_str(), (r + "/a/g").c_str())); }},
      {"link a a2", [](auto r) { return result(link((r + "/a").c_str(), (r + "/a2").c_str())); }},
      {"attrs a/g", [](auto r) { return attrs(r + "/a/g"); }},
      {"symlink s", [](auto r) { return result(symlink("a/f", (r + "/s").c_str())); }},
      {"attrs s", [](auto r) { return attrs(r + "/s").substr(0, 6); }},  // mode only
      {"read s", [](auto r) { return contents(r + "/s"); }},
      {"rename a/f a/h", [](auto r) { return rename2(r, "/a/f", "/a/h", 0); }},
      {"read s (dangling)", [](auto r) { return contents(r + "/s"); }},
      {"rename a a/sub/x", [](auto r) { return rename2(r, "/a", "/a/sub/x", 0); }},
      {"noreplace a/g a/h", [](auto r) { return rename2(r, "/a/g", "/a/h", RENAME_NOREPLACE); }},
      {"exchange a/g a/sub", [](auto r) { return rename2(r, "/a/g", "/a/sub", RENAME_EXCHANGE); }},
      {"attrs a/g", [](auto r) { return attrs(r + "/a/g"); }},
      {"exchange back", [](auto r) { return rename2(r, "/a/g", "/a/sub", RENAME_EXCHANGE); }},
      {"rename dir onto file", [](auto r) { return rename2(r, "/a/sub", "/a/h", 0); }},
      {"rename file onto dir", [](auto r) { return rename2(r, "/a/h", "/a/sub", 0); }},
      {"rmdir a/h", [](auto r) { return result(rmdir((r + "/a/h").c_str())); }},
      {"truncate a/h 3", [](auto r) { return result(truncate((r + "/a/h").c_str(), 3)); }},
      {"read a/g", [](auto r) { return contents(r + "/a/g"); }},
      {"truncate a/h 8", [](auto r) { return result(truncate((r + "/a/h").c_str(), 8)); }},
      {"read a/h", [](auto r) { return contents(r + "/a/h"); }},
      {"chmod a/h", [](auto r) { return result(chmod((r + "/a/h").c_str(), 0604)); }},
      {"chown a/h", [](auto r) { return result(chown((r + "/a/h").c_str(), 1000, 2000)); }},
      {"attrs a/h", [](auto r) { return attrs(r + "/a/h"); }},
      {"setxattr",
       [](auto r) { return result(setxattr((r + "/a/h").c_str(), "user.k", "v", 1, 0)); }},
      {"setxattr create",
       [](auto r) {
         return result(setxattr((r + "/a/h").c_str(), "user.k", "w", 1, XATTR_CREATE));
       }},
      {"getxattr missing",
       [](auto r) { return result(getxattr((r + "/a/h").c_str(), "user.none", nullptr, 0)); }},
      {"listxattr a/g", [](auto r) { return xattr_list(r + "/a/g"); }},
      {"removexattr", [](auto r) { return result(removexattr((r + "/a/h").c_str(), "user.k")); }},
      {"removexattr again",
       [](auto r) { return result(removexattr((r + "/a/h").c_str(), "user.k")); }},
      {"open dir for write", [](auto r) { return result(open((r + "/a").c_str(), O_WRONLY)); }},
      {"mkdir 256-byte name",
       [](auto r) { return result(mkdir((r + "/" + long_name).c_str(), 0755)); }},
      {"symlink loop",
       [](auto r) {
         return result(symlink("l2", (r + "/l1").c_str())) +
                result(symlink("l1", (r + "/l2").c_str()));
       }},
      {"stat loop",
       [](auto r) {
         struct stat st;
         return result(stat((r + "/l1").c_str(), &st));
       }},
      {"open nofollow",
       [](auto r) { return result(open((r + "/l1").c_str(), O_RDONLY | O_NOFOLLOW)); }},
      {"utimensat a/h",
       [](auto r) {
         const timespec t[2] = {{1000, 5}, {2000, 7}};
         if (utimensat(AT_FDCWD, (r + "/a/h").c_str(), t, 0) != 0) return errno_name(errno);
         struct stat st;
         lstat((r + "/a/h").c_str(), &st);
         return std::to_string(st.st_atim.tv_sec) + "." + std::to_string(st.st_atim.tv_nsec) + " " +
                std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
       }},
      {"unlink a/g", [](auto r) { return result(unlink((r + "/a/g").c_str())); }},
      {"attrs a/h after unlink of link", [](auto r) { return attrs(r + "/a/h"); }},
      {"rmdir a/sub", [](auto r) { return result(rmdir((r + "/a/sub").c_str())); }},
      {"attrs a", [](auto r) { return attrs(r + "/a"); }},
  };
  return steps;
}

// Every entry below `dir`, sorted, with type, attributes and contents.
void dump_tree(const std::string &dir, const std::string &rel, std::vector<std::string> *out) {
  for (const auto &[name, type] : list_dir(dir)) {
    if (name == "." || name == ".." || (rel.empty() && name.starts_with("."))) continue;
    const std::string path = dir + "/" + name;
    std::string line = rel + name + " " + attrs(path) + " xattrs=" + xattr_list(path);
    struct stat st = lstat_of(path);
    if (S_ISREG(st.st_mode)) line += " data=" + contents(path);
    if (S_ISLNK(st.st_mode)) {
      char target[4096] = {};
      if (readlink(path.c_str(), target, sizeof target - 1) < 0) std::strcpy(target, "?");
      line += std::string(" -> ") + target;
    }
    out->push_back(line);
    if (S_ISDIR(st.st_mode)) dump_tree(path, rel + name + "/", out);
  }
}

std::vector<std::string> run_script(const std::string &root) {
  std::vector<std::string> transcript;
  for (const auto &step : script()) {
    errno = 0;
    transcript.push_back(std::string(step.what) + ": " + step.run(root));
  }
  dump_tree(root, "", &transcript);
  return transcript;
}

using OracleTest = MountedFsTest;

TEST_P(OracleTest, SameResultsAsTheHostFileSystem) {
  testing::TempDir plain;
  ASSERT_OK(mkdir(plain.sub("root").c_str(), 0755));
  const auto expected = run_script(plain.sub("root"));
  const auto actual = run_script(root());
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    EXPECT_EQ(i < actual.size() ? actual[i] : "<missing>",
              i < expected.size() ? expected[i] : "<missing>")
        << "step " << i << " (left: " << fs_name(kind()) << ", right: host file system)";
  }
}

// Not hlfs with caching: the high-level API gives each path its own kernel inode, so after
// the hard-link steps a name's cached link count is stale for attr_timeout (the same script
// passes on hlfs_timeout0). PosixBasicsTest.HardLinksShareTheInode covers this.
INSTANTIATE_TEST_SUITE_P(Fs, OracleTest, ::testing::ValuesIn(without("hlfs", all_fs())),
                         param_label);

}  // namespace
}  // namespace finesse::kernel_path
