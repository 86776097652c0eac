// RAII ownership of libbpf skeletons and errno-carrying results for BPF setup steps.
//
//   auto skel = finesse::bpf::Skeleton<hello_bpf>::open(FINESSE_BPF_SKELETON_OPS(hello_bpf));
//   if (!skel) die(skel.error().text());
//   skel->get()->rodata->target_tgid = getpid();   // rodata is writable only before load()
//   if (auto r = skel->load(); !r) die(r.error().text());
//   if (auto r = skel->attach(); !r) die(r.error().text());
//   // hello_bpf__destroy() runs when skel goes out of scope (detach, unload, free).
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace finesse::bpf {

// A failed step: what was attempted and the (positive) errno it failed with.
struct Error {
  int code = 0;
  std::string what;
  std::string text() const;  // "<what>: <strerror(code)> (errno <code>)"
};

// Either a value or an Error; Result<void> is just success or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  explicit operator bool() const { return v_.index() == 0; }
  T &value() { return std::get<0>(v_); }
  T *operator->() { return &value(); }
  T &operator*() { return value(); }
  const Error &error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  explicit operator bool() const { return !error_; }
  const Error &error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

// Builds an Error from errno (or from a libbpf return value: negative errno).
Error errno_error(std::string what, int err);

// The four generated functions of a bpftool skeleton `struct <name>`.
template <typename Skel>
struct SkeletonOps {
  Skel *(*open)(const struct bpf_object_open_opts *opts);
  int (*load)(Skel *);
  int (*attach)(Skel *);
  void (*destroy)(Skel *);
};

#define FINESSE_BPF_SKELETON_OPS(name)                                                          \
  (::finesse::bpf::SkeletonOps<struct name>{&name##__open_opts, &name##__load, &name##__attach, \
                                            &name##__destroy})

// Owns one skeleton; open, load and attach are separate so rodata can be set after open.
template <typename Skel>
class Skeleton {
 public:
  static Result<Skeleton> open(SkeletonOps<Skel> ops,
                               const struct bpf_object_open_opts *opts = nullptr) {
    Skel *raw = ops.open(opts);  // libbpf 1.x: NULL and errno on failure
    if (raw == nullptr) return errno_error("open BPF skeleton", errno);
    return Skeleton(ops, raw);
  }

  Result<void> load() { return step("load BPF skeleton", ops_.load(get())); }
  Result<void> attach() { return step("attach BPF skeleton", ops_.attach(get())); }

  Skel *get() const { return skel_.get(); }
  Skel *operator->() const { return get(); }

 private:
  struct Destroy {
    void (*fn)(Skel *);
    void operator()(Skel *s) const { fn(s); }
  };

  Skeleton(SkeletonOps<Skel> ops, Skel *raw) : ops_(ops), skel_(raw, Destroy{ops.destroy}) {}

  static Result<void> step(const char *what, int rc) {
    if (rc != 0) return errno_error(what, rc);
    return {};
  }

  SkeletonOps<Skel> ops_;
  std::unique_ptr<Skel, Destroy> skel_;
};

// Mounts bpffs at `path` unless it is already there (pinning maps/programs needs it).
Result<void> ensure_bpffs(const std::string &path = "/sys/fs/bpf");

// Mounts tracefs at `path` unless it is already there: libbpf resolves "tracepoint/..."
// programs through tracefs event ids, so attaching them fails with ENOENT without it.
Result<void> ensure_tracefs(const std::string &path = "/sys/kernel/tracing");

// True if the kernel exposes its BTF (needed for CO-RE relocations).
bool kernel_has_btf(const std::string &path = "/sys/kernel/btf/vmlinux");

// The BPF feature this kernel lacks ("the bpf() syscall", "BTF (/sys/kernel/btf/vmlinux)",
// "tracefs"),
// or nullopt if it has what Finesse's CO-RE programs need. Only absence counts: a permission
// error means BPF exists.
std::optional<std::string> missing_bpf_feature();

}  // namespace finesse::bpf
