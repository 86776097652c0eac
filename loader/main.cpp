// finesse-loader: attach Finesse mounts, detach them, show what is attached.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "finesse_track.h"
#include "loader.h"
#include "track_programs.h"
#include "wire.h"

using namespace finesse;

namespace {

int report(const loader::Outcome &o) {
  if (o.code == loader::kOk) {
    if (!o.message.empty()) std::cout << o.message << "\n";
  } else {
    std::cerr << "finesse-loader: " << o.message << "\n";
  }
  return o.code;
}

void print_programs() {
  std::vector<loader::PinnedProgram> progs = loader::pinned_programs();
  if (progs.empty()) {
    std::cout << "BPF programs: none loaded\n";
    return;
  }
  std::cout << "BPF programs: " << progs.size() << " attached (links pinned in " FINESSE_LINKS_DIR
            << ")\n";
  for (const auto &p : progs) {
    if (p.prog_id)
      std::printf("  prog %-6u link %-6u %s\n", p.prog_id, p.link_id, p.name.c_str());
    else
      std::printf("  %s (ids need root)\n", p.name.c_str());
  }
}

int status() {
  std::vector<loader::AttachedMount> all;
  loader::Outcome o = loader::list_attached(&all);
  if (o.code) return report(o);
  if (all.empty()) std::cout << "no mount attached\n";
  for (const auto &a : all) {
    std::cout << a.entry.mount_path << "  mount-id " << a.entry.mnt_id << "  server-pid "
              << a.entry.server_pid << (a.server_alive ? "" : " (not answering)") << "  clients "
              << a.info.clients << "  socket " << a.entry.socket_path << "\n";
  }
  print_programs();
  std::cout << "missed-bypass counting: " << (loader::missed_counting() ? "on" : "off") << "\n";
  return 0;
}

// Every call a server answers FALLBACK is then made through the kernel, where the BPF
// counters see it too: the larger of the two is the best count of calls that fell back.
uint64_t fell_back(const loader::AttachedMount &a, uint32_t op) {
  uint64_t server = a.stats.fallback[op];
  return a.bpf_counters ? std::max(server, a.kernel_missed[op]) : server;
}

int stats(bool json) {
  std::vector<loader::AttachedMount> all;
  loader::Outcome o = loader::list_attached(&all);
  if (o.code) return report(o);
  if (json) std::cout << "[";
  for (size_t i = 0; i < all.size(); i++) {
    const auto &a = all[i];
    if (json) {
      std::cout << (i ? "," : "") << "{\"mount\":\"" << a.entry.mount_path
                << "\",\"mnt_id\":" << a.entry.mnt_id << ",\"kernel_ops\":" << a.stats.kernel_ops
                << ",\"server_fs_calls\":" << a.stats.fs_calls
                << ",\"server_wakeups\":" << a.stats.wakeups
                << ",\"server_answering\":" << (a.server_alive ? "true" : "false")
                << ",\"bpf_counters\":" << (a.bpf_counters ? "true" : "false") << ",\"ops\":{";
      for (uint32_t op = 1; op < wire::kOpCount; op++)
        std::cout << (op > 1 ? "," : "") << "\"" << wire::op_name(static_cast<wire::Op>(op))
                  << "\":{\"bypassed\":" << a.stats.served[op]
                  << ",\"fell_back\":" << fell_back(a, op)
                  << ",\"server_fallback\":" << a.stats.fallback[op]
                  << ",\"kernel\":" << a.kernel_missed[op] << "}";
      std::cout << "}}";
      continue;
    }
    std::cout << a.entry.mount_path
              << "  (kernel requests seen by the file system: " << a.stats.kernel_ops
              << "; calls of the server to it: " << a.stats.fs_calls
              << "; server wake-ups: " << a.stats.wakeups
              << (a.server_alive ? "" : "; the server is not answering: its counts are not shown")
              << (a.bpf_counters ? "" : "; BPF counters off: finesse-loader missed on") << ")\n";
    std::printf("  %-10s %12s %12s %12s %12s\n", "op", "bypassed", "fell-back", "server-fb",
                "kernel(bpf)");
    for (uint32_t op = 1; op < wire::kOpCount; op++)
      std::printf("  %-10s %12llu %12llu %12llu %12llu\n", wire::op_name(static_cast<wire::Op>(op)),
                  static_cast<unsigned long long>(a.stats.served[op]),
                  static_cast<unsigned long long>(fell_back(a, op)),
                  static_cast<unsigned long long>(a.stats.fallback[op]),
                  static_cast<unsigned long long>(a.kernel_missed[op]));
  }
  if (json) std::cout << "]\n";
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"finesse-loader: registers FUSE mounts for the Finesse kernel bypass"};
  app.footer(
      "Examples:\n"
      "  sudo finesse-loader attach /mnt/fs    # the daemon runs with libfinesse_fuse.so;\n"
      "                                        # the first attach also loads the BPF programs\n"
      "  finesse-loader status                 # mounts, servers, BPF programs\n"
      "  finesse-loader stats                  # per mount and op: bypassed vs fell back\n"
      "  finesse-loader stats --json\n"
      "  sudo finesse-loader missed on          # count calls that miss the bypass (costly)\n"
      "  sudo finesse-loader detach /mnt/fs\n"
      "  sudo finesse-loader unload            # detach all, remove programs and every pin\n"
      "Exit codes: 0 ok, 2 usage, 3 not root, 4 no bpffs, 5 no BPF or BTF, 6 not a mount point,\n"
      "  7 not FUSE, 8 no Finesse server, 9 already attached, 10 not attached, 1 other.");
  app.require_subcommand(1);
  std::string mountpoint;
  bool json = false;
  auto *att = app.add_subcommand("attach", "attach the Finesse mount at MOUNTPOINT");
  att->add_option("MOUNTPOINT", mountpoint)->required();
  auto *det = app.add_subcommand("detach", "detach MOUNTPOINT (its clients fall back)");
  det->add_option("MOUNTPOINT", mountpoint)->required();
  auto *st = app.add_subcommand("status", "list attached mounts, their servers, the BPF programs");
  auto *sts = app.add_subcommand("stats", "per mount and operation: bypassed vs fell back");
  sts->add_flag("--json", json, "machine-readable output");
  std::string missed_state;
  auto *mis = app.add_subcommand(
      "missed",
      "on|off: count calls that reach attached mounts through the kernel (stats' "
      "kernel column; costs every process a little on every metadata call)");
  mis->add_option("STATE", missed_state)->required()->check(CLI::IsMember({"on", "off"}));
  auto *unl =
      app.add_subcommand("unload", "detach everything, unload the BPF programs, remove every pin");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : loader::kUsage;
  }
  if (att->parsed()) return report(loader::attach(mountpoint));
  if (det->parsed()) return report(loader::detach(mountpoint));
  if (st->parsed()) return status();
  if (sts->parsed()) return stats(json);
  if (mis->parsed()) return report(loader::missed(missed_state == "on"));
  if (unl->parsed()) return report(loader::unload());
  return loader::kUsage;
}
