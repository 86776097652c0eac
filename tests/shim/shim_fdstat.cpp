// Test helper for shim_facts_test (run with LD_PRELOAD=libfinesse_preload.so): stats
// through an fd it did not open itself (fd 3, set up by the shell) or through the cwd it
// was started in, and prints what each call returned, to be compared with a kernel run.
//   fd3 [NAME]   fstat(3), fstatat(3, "", AT_EMPTY_PATH), fstat(3) again, and with NAME
//                fstatat(3, NAME) and fstatat(3, NAME + ".missing")
//   cwd NAME     stat(NAME), stat(NAME + ".missing")
//   fork NAME    fd3 NAME in a child process
//   fdops        on fd 3 (a file opened read-write by the shell): fchmod, fchown, ftruncate,
//                futimens, fgetxattr, fstatfs, fstatvfs, each followed by an fstat
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace {

void show(const char *what, int rc, const struct stat &st) {
  if (rc != 0) {
    printf("%s -1 %s\n", what, strerror(errno));
    return;
  }
  printf("%s 0 ino=%llu mode=%o size=%lld nlink=%llu\n", what,
         static_cast<unsigned long long>(st.st_ino), st.st_mode, static_cast<long long>(st.st_size),
         static_cast<unsigned long long>(st.st_nlink));
}

void fd3(const char *name) {
  struct stat st;
  show("fstat", fstat(3, &st), st);
  show("fstatat-empty", fstatat(3, "", &st, AT_EMPTY_PATH), st);
  show("fstat-again", fstat(3, &st), st);
  if (name == nullptr) return;
  show("fstatat-name", fstatat(3, name, &st, 0), st);
  std::string missing = std::string(name) + ".missing";
  show("fstatat-missing", fstatat(3, missing.c_str(), &st, 0), st);
}

void result(const char *what, long rc) {
  if (rc < 0)
    printf("%s -1 %s\n", what, strerror(errno));
  else
    printf("%s %ld\n", what, rc);
}

// Idempotent changes, so that a second run prints the same lines.
void fdops() {
  struct stat st;
  result("ftruncate", ftruncate(3, 3));
  result("fchmod", fchmod(3, 0640));
  show("fstat", fstat(3, &st), st);
  result("fchown", fchown(3, static_cast<uid_t>(-1), 0));
  show("fstat", fstat(3, &st), st);
  struct timespec t[2] = {{1000, 0}, {2000, 0}};
  result("futimens", futimens(3, t));
  show("fstat", fstat(3, &st), st);
  printf("mtime %lld\n", static_cast<long long>(st.st_mtim.tv_sec));
  char v[16];
  result("fgetxattr", fgetxattr(3, "user.absent", v, sizeof(v)));
  struct statfs sf;
  int rc = fstatfs(3, &sf);
  printf("fstatfs %d type=%lx namelen=%ld\n", rc, static_cast<long>(sf.f_type),
         static_cast<long>(sf.f_namelen));
  struct statvfs sv;
  rc = fstatvfs(3, &sv);
  printf("fstatvfs %d namemax=%lu\n", rc, sv.f_namemax);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  std::string mode = argv[1];
  const char *name = argc > 2 ? argv[2] : nullptr;
  if (mode == "fd3") {
    fd3(name);
  } else if (mode == "cwd" && name != nullptr) {
    struct stat st;
    show("stat", stat(name, &st), st);
    std::string missing = std::string(name) + ".missing";
    show("stat-missing", stat(missing.c_str(), &st), st);
    show("lstat", lstat(name, &st), st);
    show("lstat-missing", lstat(missing.c_str(), &st), st);
  } else if (mode == "fdops") {
    fdops();
  } else if (mode == "fork") {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      fd3(name);
      fflush(stdout);
      _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) return 1;
  } else {
    return 2;
  }
  return 0;
}
