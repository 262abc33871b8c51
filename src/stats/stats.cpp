#include "stats/stats.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena/arena.h"
#include "cache/thread_cache.h"
#include "common/base.h"
#include "hakozuna.h"
#include "options/options.h"
#include "stats/profile.h"
#include "track/memcheck.h"

namespace hz::stats {

// constinit: malloc runs before any constructor of this library.
constinit std::atomic<uint64_t> g_counters[kNumCounters] = {};

namespace {
constinit bool g_print_at_exit = false;
}  // namespace
constinit bool g_counting = false;
namespace {
// A private copy of stderr: programs such as ls close fd 2 in an atexit
// handler, before our report runs. High among the process's descriptors
// (a program naming one, as bash's `exec 100>file`, met ours at 100), and
// checked at the report: a program that closed it and opened a file there,
// or put one there with dup2, got the report in its file; then fd 2 it is.
// Without a good copy, fd 2 if it is still what stderr was at start; none
// when stderr was closed at start (a file the program opens then gets fd 2).
constinit int g_report_fd = -1;
constinit dev_t g_stderr_dev = 0;  // what fd 2 was at start (the copy is a dup of it)
constinit ino_t g_stderr_ino = 0;
constinit bool g_stderr_open = false;
constinit bool g_report_checked = false;  // init_from_env looked at stderr (else fd 2, as asked)

bool is_stderr(int fd) {
  struct stat st;
  return g_stderr_open && fstat(fd, &st) == 0 && st.st_dev == g_stderr_dev && st.st_ino == g_stderr_ino;
}

int report_fd() {
  if (!g_report_checked) return 2;
  if (g_report_fd >= 0 && fcntl(g_report_fd, F_GETFD) == FD_CLOEXEC && is_stderr(g_report_fd)) return g_report_fd;
  return is_stderr(2) ? 2 : -1;
}

// Appends " name=value" to buf without allocating.
void append(char* buf, size_t cap, size_t& len, const char* name, uint64_t v) {
  auto put = [&](char c) {
    if (len + 1 < cap) buf[len++] = c;
  };
  put(' ');
  for (const char* s = name; *s; ++s) put(*s);
  put('=');
  char d[24];
  size_t n = format_u64(d, v);
  for (size_t i = 0; i < n; ++i) put(d[i]);
  buf[len] = '\0';
}
}  // namespace

void init_from_env() {
  g_print_at_exit = options::get().stats;
  profile::init_from_env();
  g_counting = g_print_at_exit || profile::on() || track::active();
  if (g_print_at_exit) {
    // 64 under the descriptor limit, between 100 and 1000 (a higher one
    // would grow the process's descriptor table).
    struct rlimit rl;
    long lo = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? static_cast<long>(rl.rlim_cur) - 64 : 1000;
    lo = lo < 100 ? 100 : lo > 1000 ? 1000 : lo;
    struct stat st;
    g_report_checked = true;
    if (fstat(2, &st) == 0) {
      g_stderr_open = true;
      g_stderr_dev = st.st_dev;
      g_stderr_ino = st.st_ino;
      g_report_fd = fcntl(2, F_DUPFD_CLOEXEC, lo);  // -1: none
    }
  }
}

void print_report() {
  char buf[2048];
  size_t len = 0;
  const char* head = "hakozuna: version=" HAKOZUNA_VERSION_STRING;  // which library wrote the line
  for (const char* s = head; *s; ++s) buf[len++] = *s;
  buf[len] = '\0';
  arena::Usage u = arena::usage();
  if (counting()) {
    uint64_t hot[3];
    live_thread_stats(hot);
    append(buf, sizeof buf, len, "alloc", hot[0] + g_counters[kLargeAlloc].load());
    append(buf, sizeof buf, len, "free", hot[1] + g_counters[kFree].load() + g_counters[kLargeFree].load());
    append(buf, sizeof buf, len, "remote_free", hot[2] + g_counters[kRemoteFree].load());
  }
  append(buf, sizeof buf, len, "mapped", u.mapped_bytes);
  append(buf, sizeof buf, len, "mapped_peak", u.mapped_peak_bytes);
  append(buf, sizeof buf, len, "in_use", u.in_use_bytes);
  append(buf, sizeof buf, len, "reserved", u.reserved_bytes);
  if (counting()) {
    for (unsigned c = kLargeAlloc; c < kNumCounters; ++c)
      if (kRemoteLite || c < kRlPush || c > kRlFallback)
        append(buf, sizeof buf, len, kCounterNames[c], g_counters[c].load(std::memory_order_relaxed));
    uint64_t flushes = g_counters[kRemoteFlush].load();
    append(buf, sizeof buf, len, "remote_flush_avg_len",
           flushes ? g_counters[kRemoteFlushBlocks].load() / flushes : 0);
  } else {
    const char* off = " counters=off(set HAKOZUNA_STATS=1 before start)";
    for (const char* s = off; *s && len + 2 < sizeof buf; ++s) buf[len++] = *s;
  }
  buf[len++] = '\n';
  buf[len] = '\0';
  const int fd = report_fd();
  if (fd >= 0) write_all(fd, buf, len);
}

void at_exit() {
  // A program that never allocated never read its options: the report is
  // still owed when HAKOZUNA_STATS=1 asks for it.
  if (!process_ready()) {
    options::parse();
    g_counting = options::get().stats;
    if (g_counting) print_report();
    profile::write_at_exit();
    return;
  }
  if (g_print_at_exit) print_report();
  profile::write_at_exit();
}

}  // namespace hz::stats
