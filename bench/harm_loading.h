// The do-no-harm suite's two states of the machine: Finesse loaded (the BPF programs loaded and
// pinned and the mount attached, as `finesse-loader attach` leaves them) and not loaded (as
// `finesse-loader unload` leaves it: every mount detached, every pin gone). Unload detaches
// every attached mount: the caller holds the machine's test lock. On destruction the mount is
// detached, and the programs are unloaded unless they were loaded before we started.
#pragma once

#include <string>

namespace finesse::bench {

class FinesseLoading {
 public:
  explicit FinesseLoading(std::string mountpoint);
  ~FinesseLoading();
  FinesseLoading(const FinesseLoading &) = delete;
  FinesseLoading &operator=(const FinesseLoading &) = delete;

  // Each throws std::runtime_error with the loader's message; no-ops in the state asked for.
  void load();
  void unload();

 private:
  std::string mountpoint_;
  bool attached_ = false;
  bool loaded_before_;
};

}  // namespace finesse::bench
