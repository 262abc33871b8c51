#include "budget/idle_return.h"

#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "budget/budget.h"
#include "options/options.h"
#include "os/os.h"
#include "stats/stats.h"
#include "track/memcheck.h"

// Every system call here is a raw one: libc's open(), read() and nanosleep()
// are cancellation points (a pthread_cancel acted on inside malloc leaves
// locks held for good), and a program may interpose them (an open() that
// takes a lock the sleeping owner holds would deadlock against it).

namespace hz::idle {

HZ_TLS uint8_t t_switched_context = 0;

namespace {

constinit SpinLock g_lock;       // one attempt at a time: the scan buffer, the ticks
constinit int g_enabled = -1;    // -1: not yet decided
constinit uintptr_t g_text_lo = 0, g_text_len = 0;  // our executable segment
constinit uint32_t g_tick = 0;
constinit long g_mem = -1;       // /proc/self/mem during a pass (opened per pass: a fork child's is its own)
alignas(8) constinit char g_scan[16384];

// ---- is our code an object of its own? ----

// The static library's code, all of it in one section of its own
// (cmake/text_section.cmake renames every .text* section of its objects):
// the linker defines these in the program (or library) linked with
// libhakozuna.a, whose own code must not count as ours. Not in
// libhakozuna.so, whose executable segment is all ours.
extern "C" char __start_hz_text[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_hz_text[] __attribute__((weak, visibility("hidden")));

int find_text(dl_phdr_info* info, size_t, void* self) {
  uintptr_t me = reinterpret_cast<uintptr_t>(self);
  for (unsigned i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (me - lo >= ph.p_memsz) continue;
    const uintptr_t s = reinterpret_cast<uintptr_t>(__start_hz_text), e = reinterpret_cast<uintptr_t>(__stop_hz_text);
    if (s && e && me - s < e - s) {
      g_text_lo = s, g_text_len = e - s;
    } else if (info->dlpi_name && info->dlpi_name[0] && !s) {
      g_text_lo = lo, g_text_len = ph.p_memsz;
    }
    // Else the program itself, or our objects linked some other way: its
    // code would count as ours, so idle return stays off.
    return 1;
  }
  return 0;
}

bool decide() {
  if constexpr (!kIdleReturn) return false;
  if (!options::get().idle_return || track::under_valgrind()) return false;  // valgrind: its threads sleep in its own code
  dl_iterate_phdr(find_text, reinterpret_cast<void*>(&on_flag));
  if (g_text_len == 0) return false;
  // The kernel must tell a sleeping thread's system call (CONFIG_HAVE_ARCH_TRACEHOOK).
  char buf[256];
  return os::read_proc("/proc/thread-self/syscall", buf, sizeof buf) != 0;
}

bool enabled() {
  if (g_enabled < 0) g_enabled = decide() ? 1 : 0;
  return g_enabled == 1;
}

bool ours(uintptr_t a) { return a - g_text_lo < g_text_len; }

// ---- reading /proc ----

// /proc/self/task/<tid>/<leaf> read into buf.
size_t read_task(int tid, const char* leaf, char* buf, size_t cap) {
  char path[64] = "/proc/self/task/";
  char* p = path + 16 + format_u64(path + 16, static_cast<uint64_t>(tid));
  *p++ = '/';
  while (*leaf) *p++ = *leaf++;
  *p = 0;
  return os::read_proc(path, buf, cap);
}

// The next whitespace-separated field of *p as a number (base 10, or 16 after 0x).
bool field(const char*& p, uintptr_t* v) {
  while (*p == ' ') ++p;
  if (*p == '-' || *p < '0' || *p > '9') return false;
  unsigned base = 10;
  if (p[0] == '0' && p[1] == 'x') p += 2, base = 16;
  uintptr_t x = 0;
  for (;; ++p) {
    unsigned d;
    if (*p >= '0' && *p <= '9') d = static_cast<unsigned>(*p - '0');
    else if (base == 16 && *p >= 'a' && *p <= 'f') d = static_cast<unsigned>(*p - 'a' + 10);
    else break;
    x = x * base + d;
  }
  *v = x;
  return *p == ' ' || *p == '\n' || *p == 0;
}

// n bytes of this process at a into buf, through /proc/self/mem: an address
// not mapped (a wrong guess of a stack's extent, a dead thread's TLS) is a
// failed read, never a fault; and no process_vm_readv, which sandboxes forbid.
bool peek(uintptr_t a, void* buf, size_t n) {
  return g_mem >= 0 && syscall(SYS_pread64, g_mem, buf, n, static_cast<off_t>(a)) == static_cast<long>(n);
}

// ---- step 2: the owner sleeps outside our code ----

// A signal frame (x86-64 rt_sigframe), as the kernel writes it at delivery:
// the restorer (the handler's return address), the ucontext's flags (at
// most UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS) and link (0),
// its stack (3 words), then r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp,
// rip. Found by this shape, not by the restorer: a handler installed with a
// restorer of its own and uninstalled while it sleeps leaves no trace in the
// handlers installed now.
constexpr size_t kFrameWords = 23;  // up to the rip
constexpr size_t kFlags = 1, kLink = 2, kRip = 22;

// The stack of a sleeping thread, from sp up to top, holds no signal frame
// whose handler interrupted our code (a malloc half done, its handler asleep
// in a system call, whatever its mask). A frame left in a buffer the stack
// reuses cannot be told from a live one: it makes the attempt refuse too
// (the cache stays, as without idle return).
bool no_frame_in_our_code(uintptr_t sp, uintptr_t top) {
  if (top == 0 || sp >= top || top - sp > kIdleStackScanMax) return false;
  constexpr size_t kWords = sizeof g_scan / sizeof(uintptr_t);
  const uintptr_t* w = reinterpret_cast<const uintptr_t*>(g_scan);
  // Chunks overlap by a frame's words, so that a frame across two is seen.
  for (uintptr_t at = sp & ~uintptr_t{7};;) {
    size_t n = (top - at) / sizeof(uintptr_t) < kWords ? (top - at) / sizeof(uintptr_t) : kWords;
    if (!peek(at, g_scan, n * sizeof(uintptr_t))) return false;
    for (size_t i = 0; i + kFrameWords <= n; ++i)
      if (ours(w[i + kRip]) && w[i + kFlags] <= 7 && w[i + kLink] == 0) return false;
    if (n < kWords) return true;
    at += (n - kFrameWords) * sizeof(uintptr_t);
  }
}

bool sleeps_outside(int tid, uintptr_t top) {
  char buf[256];
  if (!read_task(tid, "syscall", buf, sizeof buf)) return false;
  // "running", or "-1 sp pc" (asleep but not in a system call) fail here; a
  // system call reads "nr arg1 .. arg6 sp pc". A page fault reads as one
  // (its error code where nr is) with the faulting pc: ours if it was ours.
  const char* q = buf;
  uintptr_t v[9];
  for (uintptr_t& x : v)
    if (!field(q, &x)) return false;
  uintptr_t nr = v[0], sp = v[7], pc = v[8];
  // A thread that waits for a vfork child: the child runs on its stack and
  // TLS (and may, against the rules, call malloc) until it execs or exits.
  if (nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3) return false;
  return !ours(pc) && no_frame_in_our_code(sp, top);
}

// The owner has switched contexts (read after it is seen asleep: it sets the
// flag before it switches, so a switch made before that sleep is seen).
bool switched(const IdleState& st) {
  if constexpr (!kIdleContextGuard) return false;
  uint8_t v = 1;
  return !peek(reinterpret_cast<uintptr_t>(st.switched), &v, sizeof v) || v != 0;
}

constexpr uintptr_t kMainStack = 1;  // IdleState::stack_top of the main thread, until read

// The main thread's stack top: /proc/self/stat's startstack (field 28; the
// fields after the command's closing parenthesis start at field 3).
uintptr_t main_stack_top() {
  char buf[1024];
  size_t n = os::read_proc("/proc/self/stat", buf, sizeof buf);
  if (!n) return 0;
  const char* p = buf + n;
  while (p > buf && *p != ')') --p;
  if (*p != ')') return 0;
  ++p;
  for (int f = 3; f < 28; ++f) {  // skip to field 28 (some fields may be negative)
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  uintptr_t v = 0;
  if (!field(p, &v)) return 0;
  return v;
}

// ---- what a cache holds ----

// 0 when the cache holds nothing; else changes with (nearly) every change of
// what it holds. Read while the owner runs: a torn or stale value only delays
// or advances an attempt, which is safe whenever it runs. tc is a thread's
// front: the blocks sit in tc->real (itself, unless a counting front).
uint64_t signature(const ThreadCache* front) {
  const ThreadCache* tc = front->real;
  uint64_t sig = 0;
  bool any = false;
  for (unsigned c = 1; c < kNumClasses; ++c) {
    const Bin& b = tc->bins[c];
    FreeBlock* head = __atomic_load_n(&b.head, __ATOMIC_RELAXED);
    any |= head != nullptr;
    sig = sig * 31 + reinterpret_cast<uintptr_t>(head) + static_cast<uint32_t>(__atomic_load_n(&b.room, __ATOMIC_RELAXED));
    uint32_t spill = uint32_t{__atomic_load_n(&tc->spill.n[c], __ATOMIC_RELAXED)} << 16 |
                     __atomic_load_n(&tc->spill.first[c], __ATOMIC_RELAXED);
    any |= (spill >> 16) != (spill & 0xFFFF);
    sig = sig * 31 + spill;
  }
  size_t remote = __atomic_load_n(&tc->remote.pending_bytes, __ATOMIC_RELAXED);
  any |= remote != 0;
  sig = sig * 31 + remote;
  return any ? sig | 1 : 0;
}

// ---- steps 1 to 3 ----

// tc's lock held, tc takeable (state.sizes set), its contents unchanged for
// idle_ms. True if the cache was taken. tc is the thread's front: flags and
// slow paths are on it (idle::Busy(t_cache)), the blocks in tc->real. A
// counting front's tables are the empty ones already (every malloc and free
// lands in a slow path): step 1 only sets the flag.
bool attempt(ThreadCache* tc, uint32_t idle_ms) {
  IdleState& st = tc->idle_state;
  ThreadCache* real = tc->real;
  BinTables* const own_sizes = tc->counting ? &g_empty_tables : &tc->region->tables;
  char* const own_bins = tc->counting ? reinterpret_cast<char*>(&g_empty_region) : reinterpret_cast<char*>(tc->region);
  int tid = __atomic_load_n(&tc->tid, __ATOMIC_RELAXED);
  if (tid <= 0 || tid == static_cast<int>(gettid())) return false;
  // A thread gone without its teardown (its first malloc came in the last
  // round of key destructors, or a raw exit): its TLS is not ours to touch,
  // maybe not even mapped. The sweep of gone threads releases its cache.
  if (syscall(SYS_tgkill, getpid(), tid, 0) != 0) {
    __atomic_store_n(&st.sizes, nullptr, __ATOMIC_RELAXED);
    return false;
  }
  // The owner's TLS still names this cache (read without a fault: a tid
  // reused by a new thread whose stack is elsewhere).
  BinTables* sizes;
  char* bins;
  ThreadCache* cache;
  if (switched(st)) return false;  // for good: not watched until it changes (kRefusalsMax)
  if (!peek(reinterpret_cast<uintptr_t>(st.sizes), &sizes, sizeof sizes) ||
      !peek(reinterpret_cast<uintptr_t>(st.bins), &bins, sizeof bins) ||
      !peek(reinterpret_cast<uintptr_t>(st.cache), &cache, sizeof cache) || sizes != own_sizes || bins != own_bins ||
      cache != tc)
    return false;
  __atomic_fetch_or(&tc->idle, kStopped, __ATOMIC_SEQ_CST);
  if (!tc->counting) {
    __atomic_store_n(st.sizes, &g_empty_tables, __ATOMIC_RELAXED);
    __atomic_store_n(st.bins, reinterpret_cast<char*>(&g_empty_region), __ATOMIC_RELAXED);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (st.stack_top == kMainStack) st.stack_top = main_stack_top();
  // busy is read after the thread is seen asleep: a slow path that set it
  // before its system call is seen.
  bool ok = sleeps_outside(tid, st.stack_top) && !__atomic_load_n(&tc->busy, __ATOMIC_ACQUIRE) && !switched(st);
  if (ok) {
    // Lock-free pushes only: nothing the owner (waiting in on_flag, with
    // whatever it holds) could be holding.
    thread_flush_all(real);
    budget::reclaim_shard(real->shard, false, idle_ms);
  }
  __atomic_store_n(st.sizes, own_sizes, __ATOMIC_RELAXED);
  __atomic_store_n(st.bins, own_bins, __ATOMIC_RELAXED);
  __atomic_fetch_and(&tc->idle, static_cast<uint8_t>(~kStopped), __ATOMIC_RELEASE);
  if (ok) __atomic_fetch_or(&tc->idle, kWake, __ATOMIC_RELAXED);
  stats::add(ok ? stats::kIdleTaken : stats::kIdleRefused, 1);
  return ok;
}

struct Pass {
  uint32_t now, idle_ms, tick;
  bool all;      // the exhaustion sequence: whatever the signature says
  bool pending;  // some cache holds blocks
};

// A thread's front, attached (the cache behind a counting front never is).
bool takeable(const ThreadCache* tc) { return tc->live && __atomic_load_n(&tc->idle_state.sizes, __ATOMIC_RELAXED); }

// A cache refused this often (a thread that never sleeps outside our code:
// a stack deeper than the scan, a coroutine's stack) is not watched until its
// contents change: the purger may sleep.
constexpr uint32_t kRefusalsMax = 3;
bool watched(const IdleState& st) { return st.refused < kRefusalsMax; }

// Under the pool lock: tc is to be attempted now (its lock is then held).
bool pick(ThreadCache* tc, void* arg) {
  Pass& p = *static_cast<Pass*>(arg);
  IdleState& st = tc->idle_state;
  if (!takeable(tc) || st.tried == p.tick) return false;
  uint64_t sig = signature(tc);
  if (sig != st.sig) {
    st.sig = sig;
    st.since_ms = p.now;
    st.refused = 0;
    p.pending |= sig != 0;
    if (!p.all) return false;
  }
  if (sig == 0 || (!p.all && !watched(st))) return false;
  p.pending = true;
  if (!p.all && p.now - st.since_ms < p.idle_ms) return false;
  if (!st.lock.try_lock()) return false;
  if (!st.sizes) {
    st.lock.unlock();
    return false;
  }
  st.tried = p.tick;
  return true;
}

void run(Pass& p) {
  ThreadCache* batch[32];
  unsigned n;
  do {
    n = collect_live(batch, 32, pick, &p);
    if (n && g_mem < 0) g_mem = syscall(SYS_openat, AT_FDCWD, "/proc/self/mem", O_RDONLY | O_CLOEXEC);
    for (unsigned i = 0; i < n; ++i) {
      IdleState& st = batch[i]->idle_state;
      if (attempt(batch[i], p.all ? 0 : p.now - st.since_ms)) {
        st.sig = signature(batch[i]);
        st.refused = 0;
      } else if (!p.all) {
        st.refused++;
        st.since_ms = p.now;  // not again before another idle_ms
      }
      st.lock.unlock();
    }
  } while (n == 32);
  if (g_mem >= 0) syscall(SYS_close, g_mem);
  g_mem = -1;
}

bool set_wake(ThreadCache* tc, void*) {
  __atomic_fetch_or(&tc->idle, kWake, __ATOMIC_RELAXED);
  return false;
}

bool any_held(ThreadCache* tc, void* arg) {
  if (takeable(tc) && watched(tc->idle_state) && signature(tc)) *static_cast<bool*>(arg) = true;
  return false;
}

}  // namespace

void on_flag(ThreadCache* tc) {
  // The taker may need the solo gate, which our first lock would hold.
  HZ_CHECK(solo_gate::t_locks == 0 || (tc->idle & kStopped) == 0, "idle return: waiting for a taker while holding a lock");
  uint8_t f;
  // Yield, then sleep: a real-time owner would never yield to the purger.
  for (unsigned spins = 0; (f = __atomic_load_n(&tc->idle, __ATOMIC_ACQUIRE)) & kStopped; ++spins) {
    if (spins < 64) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50 * 1000};
      syscall(SYS_nanosleep, &ts, nullptr);
    }
  }
  if (f & kWake) {
    __atomic_fetch_and(&tc->idle, static_cast<uint8_t>(~kWake), __ATOMIC_RELAXED);
    budget::note_remote_frees();  // wakes the purger
  }
}

void attach(ThreadCache* tc) {
  if constexpr (!kIdleReturn) return;
  IdleState& st = tc->idle_state;
  // The top of this thread's stack: glibc puts a thread's TLS and descriptor
  // (the thread pointer) just above its stack. A thread on another stack (a
  // coroutine's, a signal stack) at an attempt is outside [sp, top] and left
  // alone.
  uintptr_t tp;
#if defined(__x86_64__)
  asm("mov %%fs:0, %0" : "=r"(tp));
#else
  tp = reinterpret_cast<uintptr_t>(__builtin_thread_pointer());
#endif
  // The main thread's is read at its first attempt: a process's start-up
  // opens no file of ours.
  uintptr_t top = gettid() == getpid() ? kMainStack : tp;
  LockGuard g(st.lock);
  st.stack_top = top;
  st.bins = &t_bins;
  st.cache = &t_cache;
  st.switched = &t_switched_context;
  __atomic_store_n(&st.sizes, &t_sizes, __ATOMIC_RELEASE);
  // Its first slow path wakes the purger, which may sleep since no cache held anything.
  __atomic_fetch_or(&tc->idle, kWake, __ATOMIC_RELAXED);
}

void detach(ThreadCache* tc) {
  if constexpr (!kIdleReturn) return;
  IdleState& st = tc->idle_state;
  LockGuard g(st.lock);
  __atomic_store_n(&st.sizes, nullptr, __ATOMIC_RELAXED);
}

bool tick(uint32_t now_ms, uint32_t delay_ms) {
  if constexpr (!kIdleReturn) return false;
  LockGuard g(g_lock);
  if (!enabled()) return false;
  Pass p{now_ms, delay_ms / 4, ++g_tick, false, false};
  run(p);
  return p.pending;
}

void arm_wake() {
  if constexpr (!kIdleReturn) return;
  LockGuard g(g_lock);
  if (!enabled()) return;
  ThreadCache* none[1];
  collect_live(none, 1, set_wake, nullptr);
}

bool holds_any() {
  if constexpr (!kIdleReturn) return false;
  LockGuard g(g_lock);
  if (!enabled()) return false;
  bool held = false;
  ThreadCache* none[1];
  collect_live(none, 1, any_held, &held);
  return held;
}

void take_all_now() {
  if constexpr (!kIdleReturn) return;
  LockGuard g(g_lock);
  if (!enabled()) return;
  Pass p{0, 0, ++g_tick, true, false};
  run(p);
}

void fork_prepare() { g_lock.lock(); }
void fork_parent() { g_lock.unlock(); }
void fork_child() { g_lock.reset(); }

}  // namespace hz::idle
