#include "harm_loading.h"

#include <cstdio>
#include <stdexcept>

#include "finesse/finesse.h"
#include "loader.h"
#include "track_programs.h"

namespace finesse::bench {

FinesseLoading::FinesseLoading(std::string mountpoint)
    : mountpoint_(std::move(mountpoint)), loaded_before_(loader::programs_loaded()) {}

FinesseLoading::~FinesseLoading() {
  if (attached_) {
    const loader::Outcome o = loader::detach(mountpoint_);
    if (o.code != loader::kOk) {
      std::fprintf(stderr, "finesse-bench: detaching %s: %s\n", mountpoint_.c_str(),
                   o.message.c_str());
    }
  }
  if (!loaded_before_ && loader::programs_loaded()) {
    const loader::Outcome o = loader::unload();
    if (o.code != loader::kOk) {
      std::fprintf(stderr, "finesse-bench: unloading: %s\n", o.message.c_str());
    }
  }
  finesse_refresh_registry();
}

void FinesseLoading::load() {
  if (attached_) return;
  const loader::Outcome o = loader::attach(mountpoint_);  // loads the programs first if needed
  if (o.code != loader::kOk) throw std::runtime_error("attaching the bypass: " + o.message);
  attached_ = true;
}

void FinesseLoading::unload() {
  if (!attached_ && !loader::programs_loaded()) return;
  const loader::Outcome o = loader::unload();
  if (o.code != loader::kOk) throw std::runtime_error("unloading Finesse: " + o.message);
  attached_ = false;
}

}  // namespace finesse::bench
