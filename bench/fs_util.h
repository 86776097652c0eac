// Small file-system chores for the benchmark's untimed setup and cleanup. Every failure throws
// std::runtime_error naming the path.
#pragma once

#include <string>
#include <vector>

namespace finesse::bench {

// A fresh directory `parent`/`prefix`XXXXXX.
std::string make_temp_dir(const std::string &parent, const std::string &prefix);
void make_dir(const std::string &path);
// Removes a tree bottom-up, never crossing into another mount below it.
void remove_tree(const std::string &path);

// dir/prefix0 ... dir/prefix(n-1), built once so no timed loop formats strings.
std::vector<std::string> numbered_paths(const std::string &dir, const char *prefix, size_t n);
// Empty regular files (mknod: one FUSE round trip fewer than open+close) and directories.
void create_files(const std::vector<std::string> &paths);
void create_dirs(const std::vector<std::string> &paths);

// The directory finesse-bench's executable is in.
std::string executable_dir();

// sync, then drop the page cache, dentries and inodes (as root): a cold-cache phase starts
// here. Throws std::runtime_error if /proc/sys/vm/drop_caches cannot be written.
void drop_caches();

}  // namespace finesse::bench
