#include "budget/idle_return.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "budget/budget.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz::idle {
namespace {

constinit SpinLock g_lock;       // one attempt at a time: the scan buffer, the ticks
constinit int g_enabled = -1;    // -1: not yet decided
constinit uintptr_t g_text_lo = 0, g_text_len = 0;  // our executable segment
constinit uint32_t g_tick = 0;
alignas(8) constinit char g_scan[16384];

// ---- is our code an object of its own? ----

int find_text(dl_phdr_info* info, size_t, void* self) {
  uintptr_t me = reinterpret_cast<uintptr_t>(self);
  for (unsigned i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (me - lo >= ph.p_memsz) continue;
    // The program itself (statically linked with us): its own code would
    // count as ours.
    if (!info->dlpi_name || !info->dlpi_name[0]) return 1;
    g_text_lo = lo;
    g_text_len = ph.p_memsz;
    return 1;
  }
  return 0;
}

bool decide() {
  if constexpr (!kIdleReturn) return false;
  if (track::under_valgrind()) return false;  // its threads sleep in its own code
  dl_iterate_phdr(find_text, reinterpret_cast<void*>(&on_flag));
  if (g_text_len == 0) return false;
  // The kernel must tell a sleeping thread's system call (CONFIG_HAVE_ARCH_TRACEHOOK).
  char path[64] = "/proc/thread-self/syscall";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  // arm_wake's asymmetric fence; without it, a plain full barrier there.
  syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
  return true;
}

bool enabled() {
  if (g_enabled < 0) g_enabled = decide() ? 1 : 0;
  return g_enabled == 1;
}

bool ours(uintptr_t a) { return a - g_text_lo < g_text_len; }

// ---- step 2: the owner sleeps outside our code ----

char* put_uint(char* p, unsigned v) {
  char tmp[12];
  int n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10); while (v /= 10);
  while (n) *p++ = tmp[--n];
  return p;
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

// The restorers of the handlers installed now (glibc's __restore_rt, and any
// a runtime installs by itself): the first word of every signal frame on a
// stack (x86-64 rt_sigframe: the restorer, then the ucontext).
constexpr unsigned kRestorersMax = 8;
constinit uintptr_t g_restorers[kRestorersMax];
constinit unsigned g_nrestorers = 0;

void find_restorers() {
  struct {
    uintptr_t handler, flags, restorer, mask;
  } k;
  g_nrestorers = 0;
  for (int sig = 1; sig < 65; ++sig) {
    if (syscall(SYS_rt_sigaction, sig, nullptr, &k, 8) != 0 || k.handler <= 1 || !k.restorer) continue;
    bool known = false;
    for (unsigned i = 0; i < g_nrestorers; ++i) known |= g_restorers[i] == k.restorer;
    if (!known && g_nrestorers < kRestorersMax) g_restorers[g_nrestorers++] = k.restorer;
  }
}

bool restorer(uintptr_t w) {
  for (unsigned i = 0; i < g_nrestorers; ++i)
    if (w == g_restorers[i]) return true;
  return false;
}

// The word at a of a sleeping thread's memory; false if unreadable. Read
// through the kernel: a wrong guess of a stack's extent is a failed read,
// never a fault.
bool peek(uintptr_t a, void* buf, size_t n) {
  iovec local{buf, n}, remote{reinterpret_cast<void*>(a), n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

// Offset of the interrupted rip in a signal frame: after the restorer, the
// ucontext's flags, link and stack (8 + 8 + 24), then r8..r15, rdi, rsi, rbp,
// rbx, rdx, rax, rcx, rsp (16 registers).
constexpr size_t kFrameRip = 8 + 8 + 8 + 24 + 16 * 8;

// The stack of a sleeping thread, from sp up to top, holds no signal frame
// whose handler interrupted our code (a malloc or free half done, its
// handler asleep in a system call). A stale frame (a word that merely equals
// a restorer) only makes this refuse.
bool no_frame_in_our_code(uintptr_t sp, uintptr_t top) {
  if (top == 0 || sp >= top || top - sp > kIdleStackScanMax) return false;
  if (g_nrestorers == 0) return true;  // no handler: no signal frame
  for (uintptr_t at = sp & ~uintptr_t{7}; at < top;) {
    size_t n = top - at < sizeof g_scan ? top - at : sizeof g_scan;
    if (!peek(at, g_scan, n)) return false;
    const uintptr_t* w = reinterpret_cast<const uintptr_t*>(g_scan);
    for (size_t i = 0; i < n / sizeof(uintptr_t); ++i) {
      if (!restorer(w[i])) continue;
      uintptr_t rip;
      if (!peek(at + i * sizeof(uintptr_t) + kFrameRip, &rip, sizeof rip) || ours(rip)) return false;
    }
    at += n;
  }
  return true;
}

bool sleeps_outside(int tid, uintptr_t top) {
  char path[64] = "/proc/self/task/";
  char* p = put_uint(path + 16, static_cast<unsigned>(tid));
  const char kTail[] = "/syscall";
  for (char c : kTail) *p++ = c;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  // "running", or "-1 sp pc" (asleep but not in a system call: a page fault)
  // fail here; a system call reads "nr arg1 .. arg6 sp pc".
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

constexpr uintptr_t kMainStack = 1;  // IdleState::stack_top of the main thread, until read

// The main thread's stack top: /proc/self/stat's startstack (field 28; the
// fields after the command's closing parenthesis start at field 3).
uintptr_t main_stack_top() {
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
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
// or advances an attempt, which is safe whenever it runs.
uint64_t signature(const ThreadCache* tc) {
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
// idle_ms. True if the cache was taken.
bool attempt(ThreadCache* tc, uint32_t idle_ms) {
  IdleState& st = tc->idle_state;
  int tid = __atomic_load_n(&tc->tid, __ATOMIC_RELAXED);
  if (tid <= 0 || tid == static_cast<int>(gettid())) return false;
  // The owner's TLS still names this cache (a thread that left without its
  // teardown, by a raw exit, may have had its TLS reused by another).
  if (__atomic_load_n(st.sizes, __ATOMIC_RELAXED) != &tc->region->tables ||
      __atomic_load_n(st.bins, __ATOMIC_RELAXED) != reinterpret_cast<char*>(tc->region))
    return false;
  __atomic_fetch_or(&tc->idle, kStopped, __ATOMIC_SEQ_CST);
  __atomic_store_n(st.sizes, &g_empty_tables, __ATOMIC_RELAXED);
  __atomic_store_n(st.bins, reinterpret_cast<char*>(&g_empty_region), __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (st.stack_top == kMainStack) st.stack_top = main_stack_top();
  // busy is read after the thread is seen asleep: a slow path that set it
  // before its system call is seen.
  bool ok = sleeps_outside(tid, st.stack_top) && !__atomic_load_n(&tc->busy, __ATOMIC_ACQUIRE);
  if (ok) {
    // Lock-free pushes only: nothing the owner (waiting in on_flag, with
    // whatever it holds) could be holding.
    thread_flush_all(tc);
    budget::reclaim_shard(tc->shard, false, idle_ms);
  }
  __atomic_store_n(st.sizes, &tc->region->tables, __ATOMIC_RELAXED);
  __atomic_store_n(st.bins, reinterpret_cast<char*>(tc->region), __ATOMIC_RELAXED);
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

bool takeable(const ThreadCache* tc) {
  return tc->live && !tc->counting && tc->real == tc && __atomic_load_n(&tc->idle_state.sizes, __ATOMIC_RELAXED);
}

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
  bool looked = false;
  do {
    n = collect_live(batch, 32, pick, &p);
    if (n && !looked) {
      find_restorers();  // handlers may come and go
      looked = true;
    }
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
}

bool any_held(ThreadCache* tc, void* arg) {
  if (takeable(tc) && watched(tc->idle_state) && signature(tc)) *static_cast<bool*>(arg) = true;
  return false;
}

}  // namespace

void on_flag(ThreadCache* tc) {
  uint8_t f;
  while ((f = __atomic_load_n(&tc->idle, __ATOMIC_ACQUIRE)) & kStopped) sched_yield();
  if (f & kWake) {
    __atomic_fetch_and(&tc->idle, static_cast<uint8_t>(~kWake), __ATOMIC_RELAXED);
    budget::note_remote_frees();  // wakes the purger
  }
}

void attach(ThreadCache* tc) {
  if constexpr (!kIdleReturn) return;
  IdleState& st = tc->idle_state;
  // The top of this thread's stack: glibc puts a thread's TLS and descriptor
  // (the thread pointer) just above its stack, and the main thread's stack
  // ends at __libc_stack_end. A thread on another stack (a coroutine's, a
  // signal stack) at an attempt is outside [sp, top] and left alone.
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
  __atomic_store_n(&st.sizes, &t_sizes, __ATOMIC_RELEASE);
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

bool arm_wake() {
  if constexpr (!kIdleReturn) return true;
  LockGuard g(g_lock);
  if (!enabled()) return true;
  bool held = false;
  // Flags first, then a barrier on every running thread (membarrier), then
  // the contents: a thread that filled its cache before the flag was set is
  // seen holding blocks; one that fills it after finds the flag.
  ThreadCache* none[1];
  collect_live(none, 1, [](ThreadCache* tc, void*) {
    __atomic_fetch_or(&tc->idle, kWake, __ATOMIC_RELAXED);
    return false;
  }, nullptr);
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) std::atomic_thread_fence(std::memory_order_seq_cst);
  collect_live(none, 1, any_held, &held);
  return !held;
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
