#include "good_client.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Times each call (from *t to now) into r, and counts it.
void timed(GoodRun *r, int64_t *t, bool ok) {
  int64_t end = now_ns();
  r->slowest_ns = std::max(r->slowest_ns, end - *t);
  *t = end;
  count(r, ok);
}

// Calls run(&r), with r's stall counts the client's counters' moves meanwhile.
template <typename Run>
GoodRun with_stall_counts(Run run) {
  GoodRun r;
  finesse_client_stats before{}, after{};
  finesse_get_client_stats(&before);
  run(&r);
  finesse_get_client_stats(&after);
  r.stalled_skipped = after.stalled_skipped - before.stalled_skipped;
  r.stalled_waited = after.stalled_waited - before.stalled_waited;
  return r;
}

}  // namespace

GoodRun run_good_client(const std::string &dir, int n) {
  return with_stall_counts([&](GoodRun *r) {
    for (int i = 0; i < n; i++) {
      std::string p = dir + "/d" + std::to_string(i);
      int64_t t = now_ns();
      timed(r, &t, finesse_mkdir(p.c_str(), 0755) == 0);
      struct stat st;
      timed(r, &t, finesse_stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
      if (i % 3 == 0) timed(r, &t, finesse_rmdir(p.c_str()) == 0);
    }
  });
}

GoodRun run_stat_probe(const std::string &dir, int ms) {
  return with_stall_counts([&](GoodRun *r) {
    for (int64_t until = now_ns() + int64_t{ms} * 1000000; now_ns() < until; usleep(1000)) {
      struct stat st;
      int64_t t = now_ns();
      timed(r, &t, finesse_stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    }
  });
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
