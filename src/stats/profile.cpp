#include "stats/profile.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena/arena.h"
#include "cache/thread_cache.h"
#include "common/base.h"
#include "hakozuna.h"
#include "options/options.h"
#include "os/os.h"
#include "size_class/size_class.h"
#include "stats/stats.h"

namespace hz::profile {

constinit bool g_on = false;

namespace {

// Rows: the small size classes by class number, then page spans by power of
// two (row kNumClasses: below 512 KiB, then [512K, 1M), [1M, 2M), ...).
constexpr unsigned kSpanShift = 18;
constexpr unsigned kSpanBuckets = 30;
constexpr unsigned kRows = kNumClasses + kSpanBuckets;
// A thread's live bytes reach the shared figures when they have moved this far
// (a page span: at once), with the highest point they reached since the last
// time and their sizes there: the peak is exact for one thread, and within
// kPublishBytes per other thread. Smaller steps cost more than the counting
// itself: a thread's live bytes wander, and every publish takes the lock.
constexpr int64_t kPublishBytes = 64 << 10;
// Thread lifetimes by power of ten: under 1 ms, 10 ms, ..., 100 s, longer.
constexpr unsigned kLifeBuckets = 7;
constexpr unsigned kMaskWords = (kRows + 63) / 64;

// Calls f(row) for every row set in mask, and clears it.
template <class F>
void each_row(uint64_t (&mask)[kMaskWords], F f) {
  for (unsigned w = 0; w < kMaskWords; ++w) {
    for (uint64_t bits = mask[w]; bits; bits &= bits - 1) f(w * 64 + static_cast<unsigned>(__builtin_ctzll(bits)));
    mask[w] = 0;
  }
}

struct Row {
  uint64_t alloc, free, remote;
};

struct Thread {
  Row rows[kRows];
  int64_t pending[kRows];  // live bytes not yet in g_live
  int64_t at_max[kRows];   // pending[] when pending_sum was at pending_max
  uint64_t dirty[kMaskWords];    // rows with pending bytes
  uint64_t touched[kMaskWords];  // rows changed since pending_max was reached
  int64_t pending_sum;
  int64_t pending_max;     // the highest pending_sum since the last publish
  uint64_t start_ns;
  Thread* next;            // every record made; exited threads' records are reused
  bool live;
};

constinit SpinLock g_lock;  // guards everything below
constinit Thread* g_threads_all = nullptr;
constinit Row g_gone[kRows] = {};  // rows of exited threads
constinit int64_t g_live[kRows] = {};
constinit int64_t g_live_sum = 0;
constinit int64_t g_peak_sum = 0;
constinit int64_t g_at_peak[kRows] = {};
constinit uint64_t g_created = 0, g_alive = 0, g_max_alive = 0;
constinit uint64_t g_life[kLifeBuckets] = {};
constinit uint64_t g_trims = 0, g_trim_bytes = 0;
constinit uint64_t g_start_ns = 0;
constinit char* g_chunk = nullptr;  // records are carved from here, never unmapped
constinit size_t g_chunk_left = 0;

HZ_TLS Thread* t_rec = nullptr;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

unsigned span_row(size_t bytes) {
  unsigned log2 = 63 - static_cast<unsigned>(__builtin_clzll(bytes | 1));
  unsigned b = log2 > kSpanShift ? log2 - kSpanShift : 0;
  return kNumClasses + (b < kSpanBuckets ? b : kSpanBuckets - 1);
}

// Under g_lock. The peak is checked at the thread's highest point since its
// last publish (others' unpublished bytes unseen), which the live total after
// the publish never exceeds.
void publish(Thread* t) {
  if (g_live_sum + t->pending_max > g_peak_sum) {
    g_peak_sum = g_live_sum + t->pending_max;
    for (unsigned r = 0; r < kRows; ++r) g_at_peak[r] = g_live[r] + t->at_max[r];
  }
  each_row(t->dirty, [&](unsigned r) {
    g_live[r] += t->pending[r];
    t->pending[r] = t->at_max[r] = 0;
  });
  memset(t->touched, 0, sizeof t->touched);
  g_live_sum += t->pending_sum;
  t->pending_sum = t->pending_max = 0;
}

HZ_NOINLINE Thread* attach() {
  LockGuard g(g_lock);
  Thread* t = g_threads_all;
  while (t && t->live) t = t->next;
  if (t) {
    Thread* next = t->next;
    memset(static_cast<void*>(t), 0, sizeof *t);
    t->next = next;
  } else {
    constexpr size_t kSize = (sizeof(Thread) + 63) & ~size_t{63};
    if (g_chunk_left < kSize) {
      constexpr size_t kChunk = size_t{1} << 20;
      g_chunk = static_cast<char*>(os::reserve(kChunk));  // zeroed
      if (!g_chunk) return nullptr;
      g_chunk_left = kChunk;
    }
    t = reinterpret_cast<Thread*>(g_chunk);
    g_chunk += kSize;
    g_chunk_left -= kSize;
    t->next = g_threads_all;
    g_threads_all = t;
  }
  t->live = true;
  t->start_ns = now_ns();
  ++g_created;
  if (++g_alive > g_max_alive) g_max_alive = g_alive;
  t_rec = t;
  return t;
}

Thread* self() {
  Thread* t = t_rec;
  return HZ_LIKELY(t != nullptr) ? t : attach();
}

void add_live(Thread* t, unsigned row, int64_t bytes) {
  t->pending[row] += bytes;
  t->dirty[row / 64] |= uint64_t{1} << (row % 64);
  t->touched[row / 64] |= uint64_t{1} << (row % 64);
  t->pending_sum += bytes;
  if (t->pending_sum > t->pending_max) {  // a new high: remember its sizes
    t->pending_max = t->pending_sum;
    each_row(t->touched, [&](unsigned r) { t->at_max[r] = t->pending[r]; });
  }
  if (t->pending_sum >= kPublishBytes || t->pending_sum <= -kPublishBytes) {
    LockGuard g(g_lock);
    publish(t);
  }
}

// ---- the file ----

// Buffered writes to fd, without allocating.
struct Out {
  explicit Out(int f) : fd(f) {}
  int fd;
  char buf[4096];
  size_t len = 0;
  void put(const char* s) {
    for (; *s; ++s) {
      if (len == sizeof buf) flush();
      buf[len++] = *s;
    }
  }
  void num(uint64_t v) {
    char d[24];
    d[format_u64(d, v)] = 0;
    put(" ");
    put(d);
  }
  void snum(int64_t v) {
    if (v < 0) {
      put(" -");
      char d[24];
      d[format_u64(d, static_cast<uint64_t>(-v))] = 0;
      put(d);
      return;
    }
    num(static_cast<uint64_t>(v));
  }
  void line(const char* key, uint64_t v) {
    put(key);
    num(v);
    put("\n");
  }
  void flush() {
    write_all(fd, buf, len);
    len = 0;
  }
};

// Opens <prefix>.<pid>; -1 when it cannot.
int open_file(const char* prefix) {
  char path[4096];
  size_t n = strlen(prefix);
  if (n + 24 > sizeof path) return -1;
  memcpy(path, prefix, n);
  path[n++] = '.';
  n += format_u64(path + n, static_cast<uint64_t>(getpid()));
  path[n] = 0;
  return static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
}

void write_file(int fd) {
  Out o(fd);
  o.put("hakozuna-profile 1\nversion " HAKOZUNA_VERSION_STRING "\n");
  o.line("pid", static_cast<uint64_t>(getpid()));
  o.line("ppid", static_cast<uint64_t>(getppid()));
  o.line("shards", kShards);
  o.line("elapsed_ms", (now_ns() - g_start_ns) / 1000000);
  // The one-line report's counters, under the same names.
  uint64_t hot[3] = {0, 0, 0};
  if (process_ready()) live_thread_stats(hot);
  o.line("stat alloc", hot[0] + stats::g_counters[stats::kLargeAlloc].load());
  o.line("stat free", hot[1] + stats::g_counters[stats::kFree].load() + stats::g_counters[stats::kLargeFree].load());
  o.line("stat remote_free", hot[2] + stats::g_counters[stats::kRemoteFree].load());
  for (unsigned c = stats::kLargeAlloc; c < stats::kNumCounters; ++c) {
    o.put("stat ");
    o.put(stats::kCounterNames[c]);
    o.num(stats::g_counters[c].load(std::memory_order_relaxed));
    o.put("\n");
  }
  arena::Usage u = arena::usage();
  o.line("mapped", u.mapped_bytes);
  o.line("mapped_peak", u.mapped_peak_bytes);
  o.line("in_use", u.in_use_bytes);

  LockGuard g(g_lock);
  Row rows[kRows];
  memcpy(rows, g_gone, sizeof rows);
  uint64_t alive_ns_max = 0;
  for (Thread* t = g_threads_all; t; t = t->next) {
    if (!t->live) continue;
    publish(t);  // other threads may still run: a report, not a barrier
    for (unsigned r = 0; r < kRows; ++r) {
      rows[r].alloc += t->rows[r].alloc;
      rows[r].free += t->rows[r].free;
      rows[r].remote += t->rows[r].remote;
    }
    uint64_t age = now_ns() - t->start_ns;
    if (age > alive_ns_max) alive_ns_max = age;
  }
  o.line("live_peak", static_cast<uint64_t>(g_peak_sum > 0 ? g_peak_sum : 0));
  o.put("live_exit");
  o.snum(g_live_sum);
  o.put("\n");
  o.line("trim_calls", g_trims);
  o.line("trim_bytes", g_trim_bytes);
  o.put("threads");
  o.num(g_created);
  o.num(g_max_alive);
  o.num(g_alive);
  o.put("\n");
  o.line("oldest_alive_ms", alive_ns_max / 1000000);
  for (unsigned b = 0; b < kLifeBuckets; ++b) {
    o.put("lifetime");
    o.num(b);  // under 10^b ms; the last: longer
    o.num(g_life[b]);
    o.put("\n");
  }
  // row <kind> <size> alloc free remote live_at_peak live_at_exit: kind "class"
  // (size: the block size) or "span" (size: the bucket's lower bound).
  for (unsigned r = 1; r < kRows; ++r) {
    if (rows[r].alloc == 0 && rows[r].free == 0 && g_live[r] == 0) continue;
    bool span = r >= kNumClasses;
    o.put(span ? "row span" : "row class");
    o.num(span ? (r == kNumClasses ? 0 : uint64_t{1} << (kSpanShift + r - kNumClasses)) : kClasses[r].size);
    o.num(rows[r].alloc);
    o.num(rows[r].free);
    o.num(rows[r].remote);
    o.snum(g_at_peak[r]);
    o.snum(g_live[r]);
    o.put("\n");
  }
  o.put("end\n");
  o.flush();
}

}  // namespace

void init_from_env() {
  g_on = options::get().profile != nullptr;
  if (g_on) g_start_ns = now_ns();
}

void on_alloc(unsigned cls) {
  if (!g_on) return;
  Thread* t = self();
  if (!t) return;
  t->rows[cls].alloc++;
  add_live(t, cls, kClasses[cls].size);
}

void on_free(unsigned cls, bool remote) {
  if (!g_on) return;
  Thread* t = self();
  if (!t) return;
  t->rows[cls].free++;
  t->rows[cls].remote += remote;
  add_live(t, cls, -static_cast<int64_t>(kClasses[cls].size));
}

void on_large(size_t bytes, bool alloc) {
  if (!g_on) return;
  Thread* t = self();
  if (!t) return;
  unsigned row = span_row(bytes);
  (alloc ? t->rows[row].alloc : t->rows[row].free)++;
  add_live(t, row, alloc ? static_cast<int64_t>(bytes) : -static_cast<int64_t>(bytes));
  if (alloc) {
    LockGuard g(g_lock);  // page spans are few and large: their peaks are exact
    publish(t);
  }
}

void on_trim(size_t bytes) {
  if (!g_on) return;
  LockGuard g(g_lock);
  ++g_trims;
  g_trim_bytes += bytes;
}

void on_thread_exit() {
  Thread* t = t_rec;
  if (!t) return;
  t_rec = nullptr;
  uint64_t ms = (now_ns() - t->start_ns) / 1000000;
  unsigned b = 0;
  for (uint64_t limit = 1; b + 1 < kLifeBuckets && ms >= limit; limit *= 10) ++b;
  LockGuard g(g_lock);
  publish(t);
  for (unsigned r = 0; r < kRows; ++r) {
    g_gone[r].alloc += t->rows[r].alloc;
    g_gone[r].free += t->rows[r].free;
    g_gone[r].remote += t->rows[r].remote;
  }
  g_life[b]++;
  g_alive--;
  t->live = false;
}

void write_at_exit() {
  const char* prefix = options::get().profile;
  if (!prefix) return;
  int fd = open_file(prefix);
  if (fd < 0) {
    write_stderr("hakozuna: cannot write the profile (HAKOZUNA_PROFILE)\n");
    return;
  }
  write_file(fd);
  syscall(SYS_close, fd);
}

}  // namespace hz::profile
