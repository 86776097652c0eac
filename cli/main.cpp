// finesse: tools that use Finesse's batch interface. `finesse du` reports disk usage as
// coreutils' du does.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "tree_du.h"

int main(int argc, char **argv) {
  CLI::App app{"finesse: file-system tools over the Finesse bypass"};
  app.require_subcommand(1);
  CLI::App *du = app.add_subcommand("du", "disk usage, as du(1) reports it");
  finesse::cli::DuOptions du_opts;
  bool bytes = false;
  std::vector<std::string> du_paths;
  du->add_flag("-s,--summarize", du_opts.summarize, "a total for each argument only");
  du->add_flag("--apparent-size", du_opts.apparent, "apparent sizes, not disk usage");
  du->add_flag("-b,--bytes", bytes, "apparent sizes in bytes (--apparent-size --block-size=1)");
  du->add_option("paths", du_paths, "files and directories (default: .)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (bytes) {
    du_opts.apparent = true;
    du_opts.block_size = 1;
  }
  if (*du) return finesse::cli::run_du(du_opts, du_paths, stdout, stderr);
  return 1;
}
