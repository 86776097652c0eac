// finesse-shim-cases CASE DIR [ARG]: one scenario of the shim test in plain libc calls,
// working inside DIR and printing one line per observation. The test runs it with and
// without the shim (on twin directories when it changes things) and compares the lines.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

namespace {

std::string g_dir;

void show(const char *what, long rc) {
  printf("%s rc=%ld errno=%d\n", what, rc, rc < 0 ? errno : 0);
}

void show_stat(const char *what, int dirfd, const char *path, int flags = 0) {
  struct stat st;
  errno = 0;
  long rc = fstatat(dirfd, path, &st, flags);
  if (rc == 0)
    printf("%s rc=0 mode=%o size=%lld\n", what, st.st_mode,
           static_cast<long long>(S_ISDIR(st.st_mode) ? 0 : st.st_size));
  else
    printf("%s rc=-1 errno=%d\n", what, errno);
}

void file(const std::string &p, const char *content) {
  int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return;
  if (write(fd, content, strlen(content)) < 0) perror("write");
  close(fd);
}

// cwd on the mount, relative paths, and the cwd's ancestor renamed behind our back.
int case_cwd() {
  mkdir((g_dir + "/c").c_str(), 0755);
  mkdir((g_dir + "/c/d").c_str(), 0755);
  file(g_dir + "/c/d/f", "12345");
  show("chdir", chdir((g_dir + "/c/d").c_str()));
  show_stat("stat f", AT_FDCWD, "f");
  show_stat("stat .", AT_FDCWD, ".");
  show_stat("stat ../d/f", AT_FDCWD, "../d/f");
  show("mkdir e", mkdir("e", 0700));
  show("rename e g", rename("e", "g"));
  show_stat("stat g", AT_FDCWD, "g");
  show("rmdir g", rmdir("g"));
  show("access f", access("f", R_OK));
  show("unlink missing", unlink("missing"));
  // The cwd's parent is renamed (absolute path: the shim's cached cwd path is now stale).
  show("rename c c2", rename((g_dir + "/c").c_str(), (g_dir + "/c2").c_str()));
  show_stat("stat f after rename", AT_FDCWD, "f");
  show("mkdir h after rename", mkdir("h", 0755));
  show_stat("stat abs h", AT_FDCWD, (g_dir + "/c2/d/h").c_str());
  // A new directory where the old one was: relative calls still mean the real cwd.
  mkdir((g_dir + "/c").c_str(), 0755);
  mkdir((g_dir + "/c/d").c_str(), 0755);
  show_stat("stat f with impostor", AT_FDCWD, "f");
  return 0;
}

// The cwd changed where the shim cannot see it: a raw chdir system call, then glibc's
// daemon(), whose chdir("/") is internal to libc. A relative path must then mean the new cwd
// ("/", where there is no "f"), never the directory the shim knew.
int case_hidden_chdir() {
  mkdir((g_dir + "/c").c_str(), 0755);
  file(g_dir + "/c/f", "12345");
  file(g_dir + "/c/g", "12345");
  show("chdir", chdir((g_dir + "/c").c_str()));
  show_stat("stat f", AT_FDCWD, "f");
  show("raw chdir /", syscall(SYS_chdir, "/"));
  show("unlink f after raw chdir", unlink("f"));
  show_stat("stat f after raw chdir", AT_FDCWD, "f");
  show("chdir back", chdir((g_dir + "/c").c_str()));
  show_stat("stat g", AT_FDCWD, "g");
  fflush(stdout);
  // daemon(0, 1): the parent exits at once; the child (still writing to our stdout) goes on.
  if (daemon(0, 1) != 0) {
    show("daemon", -1);
    return 1;
  }
  show("unlink g after daemon", unlink("g"));
  show_stat("stat abs g", AT_FDCWD, (g_dir + "/c/g").c_str());
  show_stat("stat abs f", AT_FDCWD, (g_dir + "/c/f").c_str());
  return 0;
}

// *at calls with dirfds: opened, dup'ed, closed and reused, dup2'ed over, after rename.
int case_at() {
  mkdir((g_dir + "/p").c_str(), 0755);
  mkdir((g_dir + "/q").c_str(), 0755);
  file(g_dir + "/p/x", "x");
  file(g_dir + "/q/y", "yy");
  int p = open((g_dir + "/p").c_str(), O_RDONLY | O_DIRECTORY);
  int q = open((g_dir + "/q").c_str(), O_RDONLY | O_DIRECTORY);
  show_stat("p x", p, "x");
  show_stat("p y", p, "y");
  show_stat("q y", q, "y");
  show("mkdirat p n", mkdirat(p, "n", 0755));
  show("renameat p n -> q n", renameat(p, "n", q, "n"));
  show_stat("q n", q, "n");
  show("unlinkat q n", unlinkat(q, "n", AT_REMOVEDIR));
  int d = dup(p);
  show_stat("dup x", d, "x");
  int f = fcntl(q, F_DUPFD_CLOEXEC, 100);
  show_stat("fcntl-dup y", f, "y");
  show("dup2 q over d", dup2(q, d) == d ? 0 : -1);
  show_stat("d (now q) x", d, "x");
  show_stat("d (now q) y", d, "y");
  // Close a dirfd and get its number back for a regular file: *at must say ENOTDIR.
  int num = p;
  close(p);
  int reg = open((g_dir + "/q/y").c_str(), O_RDONLY);
  printf("same number %d\n", reg == num);
  show_stat("reused fd x", reg, "x");
  // A directory fd whose directory is renamed: still that directory.
  show("rename q q2", rename((g_dir + "/q").c_str(), (g_dir + "/q2").c_str()));
  show_stat("q after rename y", q, "y");
  show("fchmodat q y", fchmodat(q, "y", 0600, 0));
  show_stat("abs q2/y", AT_FDCWD, (g_dir + "/q2/y").c_str());
  // AT_FDCWD-relative *at and O_PATH dirfds.
  int o = open((g_dir + "/q2").c_str(), O_PATH);
  show_stat("opath y", o, "y");
  show_stat("empty path", o, "", AT_EMPTY_PATH);
  return 0;
}

// Symlinks inside the mount and leaving it (ARG: a directory outside the mount).
int case_symlinks(const char *outside) {
  mkdir((g_dir + "/in").c_str(), 0755);
  file(g_dir + "/in/f", "inside");
  file(std::string(outside) + "/of", "outside file");
  symlink("in", (g_dir + "/l-in").c_str());
  symlink(outside, (g_dir + "/l-out").c_str());
  symlink("../../nowhere", (g_dir + "/l-dangling").c_str());
  show_stat("stat l-in", AT_FDCWD, (g_dir + "/l-in").c_str());
  show_stat("lstat l-in", AT_FDCWD, (g_dir + "/l-in").c_str(), AT_SYMLINK_NOFOLLOW);
  show_stat("stat l-in/f", AT_FDCWD, (g_dir + "/l-in/f").c_str());
  show_stat("stat l-out/of", AT_FDCWD, (g_dir + "/l-out/of").c_str());
  show_stat("stat l-out", AT_FDCWD, (g_dir + "/l-out").c_str());
  show_stat("stat l-dangling", AT_FDCWD, (g_dir + "/l-dangling").c_str());
  show("unlink l-out/of-missing", unlink((g_dir + "/l-out/missing").c_str()));
  show("mkdir l-out/m", mkdir((g_dir + "/l-out/m").c_str(), 0755));
  show_stat("stat outside m", AT_FDCWD, (std::string(outside) + "/m").c_str());
  char buf[64] = {};
  long n = readlink((g_dir + "/l-in").c_str(), buf, sizeof(buf));
  printf("readlink l-in %ld %s\n", n, n > 0 ? buf : "");
  return 0;
}

// `..` across the mount root (ARG: the mount point).
int case_dotdot(const char *mnt) {
  std::string m = mnt, base = m.substr(m.rfind('/') + 1);
  file(g_dir + "/z", "z");
  std::string rel = g_dir.substr(m.size() + 1);  // DIR below the mount root
  show_stat("abs ../base/rel/z", AT_FDCWD, (m + "/../" + base + "/" + rel + "/z").c_str());
  show("chdir mnt", chdir(mnt));
  show_stat("rel ../base/rel/z", AT_FDCWD, ("../" + base + "/" + rel + "/z").c_str());
  show_stat("rel ..", AT_FDCWD, "..");
  show_stat("rel rel/../../base", AT_FDCWD, (rel + "/../../" + base).c_str());
  int fd = open(mnt, O_RDONLY | O_DIRECTORY);
  show_stat("at mnt ..", fd, "..");
  show_stat("at mnt ../base/rel/z", fd, ("../" + base + "/" + rel + "/z").c_str());
  return 0;
}

// Paths under ARG (a tmpfs mounted on the Finesse mount, or <mnt>2) go to the kernel.
int case_elsewhere(const char *other) {
  std::string o = other;
  file(o + "/k", "kernel only");
  show_stat("stat k", AT_FDCWD, (o + "/k").c_str());
  show("mkdir m", mkdir((o + "/m").c_str(), 0755));
  show("rename m n", rename((o + "/m").c_str(), (o + "/n").c_str()));
  show("chmod n", chmod((o + "/n").c_str(), 0700));
  show_stat("stat n", AT_FDCWD, (o + "/n").c_str());
  show("rmdir n", rmdir((o + "/n").c_str()));
  show("chdir", chdir(other));
  show_stat("rel k", AT_FDCWD, "k");
  show("unlink k", unlink("k"));
  int fd = open(other, O_RDONLY | O_DIRECTORY);
  show_stat("at k", fd, "k");
  return 0;
}

void *thread_main(void *arg) {
  long id = reinterpret_cast<long>(arg);
  std::string d = g_dir + "/t" + std::to_string(id);
  long bad = 0;
  for (int i = 0; i < 200; i++) {
    std::string e = d + "/e" + std::to_string(i);
    struct stat st;
    if (mkdir(e.c_str(), 0755) != 0) bad++;
    if (stat(e.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) bad++;
    if (stat((e + "/nope").c_str(), &st) == 0 || errno != ENOENT) bad++;
    if (rmdir(e.c_str()) != 0) bad++;
  }
  return reinterpret_cast<void *>(bad);
}

int case_threads() {
  std::vector<pthread_t> ts(8);
  for (long i = 0; i < 8; i++) {
    mkdir((g_dir + "/t" + std::to_string(i)).c_str(), 0755);
    pthread_create(&ts[i], nullptr, thread_main, reinterpret_cast<void *>(i));
  }
  long bad = 0;
  for (auto &t : ts) {
    void *r;
    pthread_join(t, &r);
    bad += reinterpret_cast<long>(r);
  }
  printf("threads bad=%ld\n", bad);
  return 0;
}

// fork, vfork and exec children (ARG: this program, to exec).
int case_children(const char *self) {
  file(g_dir + "/w", "w");
  int dfd = open(g_dir.c_str(), O_RDONLY | O_DIRECTORY);
  pid_t pid = fork();
  if (pid == 0) {
    struct stat st;
    int rc = fstatat(dfd, "w", &st, 0);
    mkdir((g_dir + "/from-fork").c_str(), 0755);
    _exit(rc == 0 && st.st_size == 1 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("fork child exit=%d\n", WEXITSTATUS(status));
  show_stat("parent sees from-fork", dfd, "from-fork");
  // A vfork child shares our memory: what it opens and closes must not confuse our tables.
  pid = vfork();
  if (pid == 0) {
    close(dfd);
    int fd = open((g_dir + "/w").c_str(), O_RDONLY);  // likely dfd's number, a regular file
    (void)fd;
    chdir("/");
    execl(self, self, "exec-child", g_dir.c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  waitpid(pid, &status, 0);
  printf("vfork+exec child exit=%d\n", WEXITSTATUS(status));
  show_stat("parent dirfd after vfork", dfd, "w");
  show_stat("parent cwd-relative after vfork", AT_FDCWD, "w");
  show_stat("parent dirfd again", dfd, "w");
  show_stat("parent sees from-fork again", dfd, "from-fork");
  return 0;
}

int case_exec_child() {
  struct stat st;
  int rc = stat((g_dir + "/from-fork").c_str(), &st);
  return rc == 0 && S_ISDIR(st.st_mode) ? 0 : 3;
}

// Drops to nobody after touching the tree as root: answers carry nobody's permissions.
int case_privdrop() {
  mkdir((g_dir + "/locked").c_str(), 0700);
  file(g_dir + "/locked/secret", "s");
  mkdir((g_dir + "/pub").c_str(), 0755);
  show_stat("root stat secret", AT_FDCWD, (g_dir + "/locked/secret").c_str());
  show("chdir pub", chdir((g_dir + "/pub").c_str()));
  int lfd = open((g_dir + "/locked").c_str(), O_RDONLY | O_DIRECTORY);
  gid_t none[1] = {};
  if (setgroups(0, none) != 0 || setgid(65534) != 0 || setuid(65534) != 0) return 3;
  show_stat("nobody stat secret", AT_FDCWD, (g_dir + "/locked/secret").c_str());
  show_stat("nobody at secret", lfd, "secret");
  show("nobody mkdir in pub", mkdir("mine", 0755));
  show("nobody mkdir locked/x", mkdir((g_dir + "/locked/x").c_str(), 0755));
  show("nobody access secret", access((g_dir + "/locked/secret").c_str(), F_OK));
  show("nobody unlink root's pub", rmdir((g_dir + "/pub").c_str()));
  return 0;
}

// A vfork child shares our memory: nothing it does may change our state (ARG: unused).
// First its connection: the child makes the first bypassed call, then exits; its fds are
// closed and our next opens get their numbers, which must stay ours.
int case_vfork_state() {
  std::string f = g_dir + "/vf";
  file(f, "vf");
  pid_t pid = vfork();
  if (pid == 0) {
    struct stat st;
    _exit(stat(f.c_str(), &st) == 0 && st.st_size == 2 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("vfork stat child exit=%d\n", WEXITSTATUS(status));
  int own[4];
  for (int i = 0; i < 4; i++) {
    own[i] = open((g_dir + "/own" + std::to_string(i)).c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (write(own[i], "own", 3) != 3) perror("write");
  }
  long bad = 0;
  for (int i = 0; i < 200; i++) {
    struct stat st;
    if (stat(f.c_str(), &st) != 0 || st.st_size != 2) bad++;
    std::string d = g_dir + "/vd" + std::to_string(i % 3);
    if (mkdir(d.c_str(), 0755) != 0 || rmdir(d.c_str()) != 0) bad++;
  }
  printf("parent calls bad=%ld\n", bad);
  for (int i = 0; i < 4; i++) {
    char buf[64] = {};
    ssize_t n = pread(own[i], buf, sizeof(buf) - 1, 0);
    struct stat st;
    int rc = fstat(own[i], &st);
    printf("own fd %d: read %zd '%s' fstat rc=%d reg=%d size=%lld\n", i, n, n > 0 ? buf : "", rc,
           rc == 0 && S_ISREG(st.st_mode), rc == 0 ? static_cast<long long>(st.st_size) : -1);
  }
  // Then its umask: the child's, not ours (the kernel keeps one per process).
  umask(022);
  pid = vfork();
  if (pid == 0) {
    umask(0777);
    _exit(0);
  }
  waitpid(pid, &status, 0);
  show("mkdir um", mkdir((g_dir + "/um").c_str(), 0777));
  show_stat("stat um", AT_FDCWD, (g_dir + "/um").c_str());
  printf("umask now %o\n", umask(022));
  return 0;
}

// The VM tests under TCG say so (and raise the per-test watchdog FINESSE_TEST_TIMEOUT).
bool emulated() {
  const char *e = getenv("FINESSE_TEST_EMULATED");
  return e != nullptr && atoi(e) != 0;
}

// Runs fn in a child and waits for it (a scenario needs well under a second natively): a hang
// is a line of output, not a hung test.
int watched(const char *name, int (*fn)()) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int rc = fn();
    fflush(stdout);
    _exit(rc);
  }
  int status = 0;
  // 20 s; 40 s under emulation (the VM tests raise FINESSE_TEST_TIMEOUT to 90 s for the
  // whole test): a scenario needs a few seconds there. A hang is a hang at any bound.
  const int polls = emulated() ? 4000 : 2000;
  for (int i = 0; i < polls; i++) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFSIGNALED(status))
        printf("%s killed by signal %d\n", name, WTERMSIG(status));
      else
        printf("%s exit=%d\n", name, WEXITSTATUS(status));
      return 0;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  printf("%s hangs\n", name);
  return 0;
}

// After whatever the scenario left behind: 1000 access() calls in this thread (the test
// counts them: served), then a credential change (every connection is torn down before its
// next call) and 1000 statfs() calls in a new thread and one in a fork child (nothing hangs;
// the kernel may serve them if a reference was left where no thread can give it back).
int calls_after(const char *what) {
  static std::string f;
  f = g_dir + "/after";
  long here = 0;
  for (int i = 0; i < 1000; i++)
    if (access(f.c_str(), R_OK) != 0) here++;
  if (seteuid(geteuid()) != 0) perror("seteuid");
  pthread_t t;
  void *in_thread = nullptr;
  int err = pthread_create(
      &t, nullptr,
      [](void *) -> void * {
        long bad = 0;
        for (int i = 0; i < 1000; i++) {
          struct statfs sf;
          if (statfs(f.c_str(), &sf) != 0) bad++;
        }
        return reinterpret_cast<void *>(bad);
      },
      nullptr);
  if (err != 0) {
    printf("%s: pthread_create: %s\n", what, strerror(err));
    return 1;
  }
  pthread_join(t, &in_thread);
  printf("%s: calls after bad=%ld+%ld\n", what, here, reinterpret_cast<long>(in_thread));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(access(f.c_str(), R_OK) == 0 ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("%s: fork child exit=%d\n", what, WEXITSTATUS(status));
  return 0;
}

// Signal handlers on a small alternate stack (8 KiB, a guard page below it) that stat and
// open files on the mount.
volatile sig_atomic_t g_handler_bad = 0;
// Made before the signals: a handler allocates nothing.
char g_hfile[4096], g_hdir_d[4096], g_hdir_e[4096];

void on_usr1(int) {
  struct stat st;
  if (stat(g_hfile, &st) != 0 || st.st_size != 5) g_handler_bad = g_handler_bad + 1;
  int fd = open(g_hfile, O_RDONLY);
  if (fd < 0 || fstat(fd, &st) != 0) g_handler_bad = g_handler_bad + 1;
  if (fd >= 0) close(fd);
  if (mkdir(g_hdir_d, 0755) != 0 || rename(g_hdir_d, g_hdir_e) != 0 || rmdir(g_hdir_e) != 0)
    g_handler_bad = g_handler_bad + 1;
}

int scenario_altstack() {
#if defined(__SANITIZE_ADDRESS__)
  const size_t size = 65536;  // ASan's own frames do not fit 8 KiB, with or without the shim
#else
  const size_t size = 8192;
#endif
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char *m = static_cast<char *>(
      mmap(nullptr, page + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (m == MAP_FAILED || mprotect(m, page, PROT_NONE) != 0) return 3;
  stack_t ss{};
  ss.ss_sp = m + page;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) return 4;
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, nullptr);
  snprintf(g_hfile, sizeof(g_hfile), "%s/after", g_dir.c_str());
  snprintf(g_hdir_d, sizeof(g_hdir_d), "%s/hd", g_dir.c_str());
  snprintf(g_hdir_e, sizeof(g_hdir_e), "%s/he", g_dir.c_str());
  for (int i = 0; i < 50; i++) raise(SIGUSR1);
  printf("altstack handler bad=%d\n", static_cast<int>(g_handler_bad));
  return 0;
}

sigjmp_buf g_jmp;
// The longjmp scenario's timer: every 300 us in "signals" (1 ms under emulation, where every
// FUSE round trip of the no-shim run outlasts 300 us), as asked in "longjmp US" (a slower
// timer lets calls get further before they are cut).
long g_alarm_us = 300;
volatile sig_atomic_t g_jumps = 0;

void on_alarm(int) {
  g_jumps = g_jumps + 1;
  siglongjmp(g_jmp, 1);
}

// siglongjmp out of a SIGALRM handler that interrupted bypassed calls, many times.
int scenario_longjmp() {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, nullptr);
  // Only async-signal-safe calls in the loop (no allocation): the handler may cut any of them.
  const std::string f = g_dir + "/after", lj = g_dir + "/lj";
  // A one-shot timer, armed after the jump buffer is set and again after each jump. (A
  // periodic timer ran the test program itself out of stack, shim or not, seen in the VMs:
  // siglongjmp unblocks SIGALRM before it jumps, so a tick that came during the handler is
  // delivered inside siglongjmp, on the deeper stack, and so on. And its first tick could
  // come before sigsetjmp had set the buffer.)
  sigsetjmp(g_jmp, 1);
  // The last round runs without the timer, through the same calls: a thread finds what a
  // siglongjmp left behind when it calls again from the same (or an outer) frame.
  const bool last = g_jumps >= 500;
  if (!last) {
    itimerval once{{0, 0}, {0, g_alarm_us}};
    setitimer(ITIMER_REAL, &once, nullptr);
  }
  for (;;) {
    struct stat st;
    stat(f.c_str(), &st);
    mkdir(lj.c_str(), 0755);
    rmdir(lj.c_str());
    if (last) break;
  }
  printf("longjmp jumps done\n");
  return calls_after("longjmp");
}

// Threads cancelled while they make bypassed calls (a sleeping server: the call kicks it).
void *cancel_thread(void *arg) {
  const std::string &f = *static_cast<std::string *>(arg);
  for (;;) {
    struct stat st;
    stat(f.c_str(), &st);
    timespec ts{0, 2000000};  // the server goes to sleep meanwhile: not a cancellation point
    syscall(SYS_nanosleep, &ts, nullptr);
    pthread_testcancel();
  }
  return nullptr;
}

int scenario_cancel() {
  std::string f = g_dir + "/after";
  for (int round = 0; round < 20; round++) {
    // Only threads that were created are cancelled: a failed pthread_create leaves its
    // pthread_t undefined, and cancelling whatever it holds (once, in a VM, the main thread)
    // ends the process quietly with status 0.
    pthread_t t[4];
    int made = 0;
    for (auto &x : t) {
      int err = EAGAIN;
      for (int tries = 0; err == EAGAIN && tries < 100; tries++) {
        err = pthread_create(&x, nullptr, cancel_thread, &f);
        if (err == EAGAIN) usleep(10000);
      }
      if (err != 0) {
        printf("cancel: pthread_create: %s\n", strerror(err));
        break;
      }
      made++;
    }
    usleep(20000);
    for (int i = 0; i < made; i++) pthread_cancel(t[i]);
    for (int i = 0; i < made; i++) pthread_join(t[i], nullptr);
  }
  printf("cancel rounds done\n");
  return calls_after("cancel");
}

int case_signals() {
  if (emulated()) g_alarm_us = 1000;
  file(g_dir + "/after", "after");
  watched("altstack", scenario_altstack);
  watched("longjmp", scenario_longjmp);
  watched("cancel", scenario_cancel);
  return 0;
}

// FINESSE_DISABLE or not: threads that call wrappers the moment they start (before anyone
// looked up the real functions) get them done, not refused.
// Nothing before the threads calls a wrapper.
int case_start_threads() {
  pthread_barrier_t b;
  const int n = 16;
  pthread_barrier_init(&b, nullptr, n);
  static std::atomic<long> bad{0};
  std::vector<pthread_t> ts(n);
  struct Arg {
    pthread_barrier_t *b;
  } arg{&b};
  for (auto &t : ts)
    pthread_create(
        &t, nullptr,
        [](void *p) -> void * {
          pthread_barrier_wait(static_cast<Arg *>(p)->b);
          for (int i = 0; i < 20; i++) {
            FILE *f = fopen(g_dir.c_str(), "r");
            if (f == nullptr || fclose(f) != 0) bad++;
            DIR *d = opendir(g_dir.c_str());
            if (d == nullptr || closedir(d) != 0) bad++;
          }
          return nullptr;
        },
        &arg);
  for (auto &t : ts) pthread_join(t, nullptr);
  printf("start threads bad=%ld\n", bad.load());
  return 0;
}

// stat() of the directory, N times: nothing else on the mount.
int case_stats(const char *n) {
  int bad = 0, count = atoi(n);
  for (int i = 0; i < count; i++) {
    struct stat st;
    if (stat(g_dir.c_str(), &st) != 0) bad++;
  }
  printf("stats %d bad=%d\n", count, bad);
  return 0;
}

}  // namespace

int case_dirs(const std::string &top);       // shim_dir_cases.cpp
int case_listed_at(const std::string &top);  // shim_dir_cases.cpp
int case_dir_opens(const std::string &top);  // shim_dir_cases.cpp
int case_listed_rel(const std::string &top);  // shim_dir_cases.cpp

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string c = argv[1];
  g_dir = argv[2];
  const char *arg = argc > 3 ? argv[3] : "";
  if (c == "cwd") return case_cwd();
  if (c == "at") return case_at();
  if (c == "hidden-chdir") return case_hidden_chdir();
  if (c == "symlinks") return case_symlinks(arg);
  if (c == "dotdot") return case_dotdot(arg);
  if (c == "elsewhere") return case_elsewhere(arg);
  if (c == "threads") return case_threads();
  if (c == "children") return case_children(argv[0]);
  if (c == "exec-child") return case_exec_child();
  if (c == "privdrop") return case_privdrop();
  if (c == "vfork-state") return case_vfork_state();
  if (c == "signals") return case_signals();
  if (c == "longjmp") {
    g_alarm_us = atol(arg) > 0 && atol(arg) < 1000000 ? atol(arg) : 300;
    file(g_dir + "/after", "after");
    return watched("longjmp", scenario_longjmp);
  }
  if (c == "start-threads") return case_start_threads();
  if (c == "stats") return case_stats(arg);
  if (c == "dirs") return case_dirs(g_dir);
  if (c == "listed-at") return case_listed_at(g_dir);
  if (c == "dir-opens") return case_dir_opens(g_dir);
  if (c == "listed-rel") return case_listed_rel(g_dir);
  return 2;
}
