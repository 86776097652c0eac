#include "common/fuse_runner.h"

#include <fuse_log.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace finesse::examples {
namespace {

// libfuse reports setup errors through fuse_log, often over several calls. While a session is
// set up its messages are collected, so that a failure is reported as one line of ours.
class SetupLogCapture {
 public:
  SetupLogCapture() {
    messages_.clear();
    fuse_set_log_func(&SetupLogCapture::collect);
  }
  ~SetupLogCapture() { fuse_set_log_func(nullptr); }

  // libfuse's messages (a message may come in several pieces) as one line, without the
  // "fuse: " prefixes.
  std::string one_line() const {
    std::string text;
    for (const std::string &piece : messages_) text += piece;
    std::string line;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string message = text.substr(start, end - start);
      start = end + 1;
      if (message.rfind("fuse: ", 0) == 0) message.erase(0, 6);
      if (message.empty()) continue;
      line += (line.empty() ? "" : "; ") + message;
    }
    return line;
  }

  // After a successful setup, libfuse's messages (e.g. debug output) go to stderr as usual.
  void replay() const {
    for (const std::string &message : messages_) std::fputs(message.c_str(), stderr);
  }

 private:
  static void collect(enum fuse_log_level, const char *format, va_list ap) {
    char text[1024];
    std::vsnprintf(text, sizeof text, format, ap);
    messages_.push_back(text);
  }
  static inline std::vector<std::string> messages_;  // setup runs on the main thread only
};

// Owns argv storage for a struct fuse_args.
class FuseArgs {
 public:
  explicit FuseArgs(std::vector<std::string> args) : storage_(std::move(args)) {
    for (std::string &arg : storage_) argv_.push_back(arg.data());
    argv_.push_back(nullptr);
    args_ = FUSE_ARGS_INIT(static_cast<int>(storage_.size()), argv_.data());
  }
  ~FuseArgs() { fuse_opt_free_args(&args_); }  // libfuse may have replaced argv with its own
  FuseArgs(const FuseArgs &) = delete;
  FuseArgs &operator=(const FuseArgs &) = delete;
  fuse_args *get() { return &args_; }

 private:
  std::vector<std::string> storage_;
  std::vector<char *> argv_;
  fuse_args args_;
};

std::string with_detail(std::string message, const std::string &detail) {
  return detail.empty() ? message : message + ": " + detail;
}

// fuse_session_loop* returns 0, -errno, or the number of the signal that ended it.
int exit_status_of_loop(const ProgramInfo &program, int loop_result) {
  if (loop_result >= 0) return 0;
  print_error(program, std::string("event loop failed: ") + std::strerror(-loop_result));
  return kExitRuntimeError;
}

int run_session_loop(fuse_session *session, const CommandLine &cmdline) {
  if (cmdline.single_threaded) return fuse_session_loop(session);
  // With FUSE_USE_VERSION 34 this is fuse_session_loop_mt_32, which takes the public v1
  // struct: an opaque fuse_loop_cfg_create() config would be misread (threads churn, heap
  // corruption).
  fuse_loop_config config{};
  config.clone_fd = 0;
  config.max_idle_threads = 10;
  return fuse_session_loop_mt(session, &config);
}

}  // namespace

int run_lowlevel_fs(const ProgramInfo &program, const CommandLine &cmdline,
                    const fuse_lowlevel_ops &ops, void *userdata) {
  FuseArgs args(libfuse_arguments(program, cmdline));
  fuse_session *session;
  {
    SetupLogCapture capture;
    session = fuse_session_new(args.get(), &ops, sizeof ops, userdata);
    if (session == nullptr) {
      print_error(program, with_detail("invalid options", capture.one_line()));
      return kExitUsageError;
    }
    if (fuse_set_signal_handlers(session) != 0) {
      print_error(program, with_detail("cannot install signal handlers", capture.one_line()));
      fuse_session_destroy(session);
      return kExitRuntimeError;
    }
    if (fuse_session_mount(session, cmdline.mountpoint.c_str()) != 0) {
      print_error(program,
                  with_detail("cannot mount on '" + cmdline.mountpoint + "'", capture.one_line()));
      fuse_remove_signal_handlers(session);
      fuse_session_destroy(session);
      return kExitRuntimeError;
    }
    capture.replay();
  }
  int status = kExitRuntimeError;
  if (fuse_daemonize(cmdline.foreground) == 0) {
    status = exit_status_of_loop(program, run_session_loop(session, cmdline));
  } else {
    print_error(program, "cannot daemonize");
  }
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  fuse_session_destroy(session);
  return status;
}

int run_highlevel_fs(const ProgramInfo &program, const CommandLine &cmdline,
                     const fuse_operations &ops, void *private_data) {
  FuseArgs args(libfuse_arguments(program, cmdline));
  fuse *fs;
  {
    SetupLogCapture capture;
    fs = fuse_new(args.get(), &ops, sizeof ops, private_data);
    if (fs == nullptr) {
      print_error(program, with_detail("invalid options", capture.one_line()));
      return kExitUsageError;
    }
    if (fuse_set_signal_handlers(fuse_get_session(fs)) != 0) {
      print_error(program, with_detail("cannot install signal handlers", capture.one_line()));
      fuse_destroy(fs);
      return kExitRuntimeError;
    }
    if (fuse_mount(fs, cmdline.mountpoint.c_str()) != 0) {
      print_error(program,
                  with_detail("cannot mount on '" + cmdline.mountpoint + "'", capture.one_line()));
      fuse_remove_signal_handlers(fuse_get_session(fs));
      fuse_destroy(fs);
      return kExitRuntimeError;
    }
    capture.replay();
  }
  int status = kExitRuntimeError;
  if (fuse_daemonize(cmdline.foreground) == 0) {
    int result;
    if (cmdline.single_threaded) {
      result = fuse_loop(fs);
    } else {
      fuse_loop_config config{};  // the v1 struct, as above
      config.clone_fd = 0;
      config.max_idle_threads = 10;
      result = fuse_loop_mt(fs, &config);
    }
    status = exit_status_of_loop(program, result);
  } else {
    print_error(program, "cannot daemonize");
  }
  fuse_unmount(fs);
  fuse_remove_signal_handlers(fuse_get_session(fs));
  fuse_destroy(fs);
  return status;
}

}  // namespace finesse::examples
