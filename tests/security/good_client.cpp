#include "good_client.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "clock.h"
#include "finesse/finesse.h"

namespace finesse::testing {

namespace {
void count(GoodRun *r, bool ok) {
  r->calls++;
  if (!ok) r->wrong++;
  if (finesse_last_route() == FINESSE_ROUTE_BYPASS) r->bypassed++;
}
}  // namespace

GoodRun run_good_client(const std::string &dir, int n) {
  GoodRun r;
  int64_t t = now_ns();
  auto timed = [&](bool ok) {
    int64_t end = now_ns();
    r.slowest_ns = std::max(r.slowest_ns, end - t);
    t = end;
    count(&r, ok);
  };
  for (int i = 0; i < n; i++) {
    std::string p = dir + "/d" + std::to_string(i);
    t = now_ns();
    timed(finesse_mkdir(p.c_str(), 0755) == 0);
    struct stat st;
    t = now_ns();
    timed(finesse_stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    t = now_ns();
    if (i % 3 == 0) timed(finesse_rmdir(p.c_str()) == 0);
  }
  return r;
}

std::string expected_good_tree(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; i++)
    if (i % 3 != 0) names.push_back("d" + std::to_string(i));
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto &s : names) out += s + "\n";
  return out;
}

std::string list_dir(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto &s : names) out += s + "\n";
  return out;
}

}  // namespace finesse::testing
