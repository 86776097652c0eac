// A tiny in-memory file system behind extension().fs.ops for the fuzzer: it answers the
// server's synthetic requests directly (no libfuse, no kernel), so that decoding, path
// walking, permission checks and handlers run on arbitrary requests.
#pragma once

namespace finesse::fuzz {

// Installs the fake ops and marks the file system initialised. Idempotent.
void install_fake_fs();

}  // namespace finesse::fuzz
