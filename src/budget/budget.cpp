#include "budget/budget.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/single_threaded.h>
#include <time.h>

#include "arena/arena.h"
#include "arena/keep.h"
#include "budget/idle_return.h"
#include "cache/thread_cache.h"
#include "check/hardened.h"
#include "options/options.h"
#include "os/os.h"
#include "remote/remote_stash.h"
#include "remote/run_remote.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz::budget {

constinit std::atomic<uint32_t> g_flush_epoch{0};
constinit std::atomic<bool> g_purger_started{false};

namespace {

constinit uint32_t g_delay_ms = kPurgeDelayMsDefault;
constinit bool g_background = true;
constinit std::atomic<uint32_t> g_purger_retry_ms{0};  // after a failure, no new attempt before this
constinit std::atomic<bool> g_purger_failed{false};
constinit std::atomic<uint32_t> g_next_decay_ms{0};
constinit SpinLock g_decay_lock;

RunMeta* run_of(const FreeBlock* b) {
  size_t page = arena::page_of(b);
  return arena::meta_of(run_first_page(page));
}

void release_run(RunMeta* r, uint32_t idle_ms) {
  HZ_CHECK(run_remote::idle(r), "a run given back to the page heap is on a run queue");
  size_t first = arena::page_of(r);
  // Its blocks are all free, each with its class's free key in its second
  // word. The pages go back dirty, and a large block or a run of another
  // class placed over them would hand those words out as data: a program
  // that copied one to offset 8 of a block of that class (realloc shrinking
  // a fresh large block does) had that block taken for a double free.
  if constexpr (kFreeKey && !kHardened) {  // hardened keys mix in the address
    char* base = static_cast<char*>(arena::page_addr(first));
    const size_t size = kClasses[r->cls].size;
    for (uint32_t i = 0; i < r->carved; ++i) reinterpret_cast<FreeBlock*>(base + i * size)->key = 0;
  }
  for (size_t i = 0; i < r->npages; ++i) g_pagemap.tags[first + i] = make_tag(kFreedClass);
  r->cls = 0;
  arena::free_span(r, false, idle_ms);
}

// One block of a free list into its run's free list, chaining the run onto
// *touched the first time a pass meets it. Blocks of another shard (lent out
// by steal()) are sent home instead: only their owner touches their run. The
// caller has read the block's link already (this overwrites it).
struct SortPass {
  unsigned shard;
  RunMeta** touched;
  size_t foreign = 0, foreign_max = 0;
};

HZ_INLINE RunMeta* run_checked(const FreeBlock* b) {
  if (HZ_UNLIKELY(arena_offset(b) >= pagemap_size())) heap_corruption("a free list leaves the heap", b);
  return run_of(b);
}

// r: run_checked(b).
HZ_INLINE void sort_into(SortPass& p, FreeBlock* b, RunMeta* r) {
  if (HZ_UNLIKELY(r->owner != p.shard)) {
    // No more blocks exist than 16-byte slots in spans in use.
    if (p.foreign == 0) p.foreign_max = arena::usage().in_use_bytes >> 4;
    if (HZ_UNLIKELY(++p.foreign > p.foreign_max)) heap_corruption("a cycle in a free list", b);
    remote_push_one(b, r->cls, r->owner);
    return;
  }
  if (HZ_UNLIKELY(r->nfree >= r->carved)) heap_corruption("a run has more free blocks than it carved: double free?", b);
  if (!r->in_pass) {
    r->in_pass = 1;
    r->touched = *p.touched;
    *p.touched = r;
  }
  if (r->nfree == 0) r->free_tail = b;
  b->set_next(r->free_list);
  r->free_list = b;
  r->nfree++;
}

HZ_INLINE void sort_block(SortPass& p, FreeBlock* b) { sort_into(p, b, run_checked(b)); }

// Sorts list into the free lists of the runs it came from. The walk is
// bounded: a run cannot hold more free blocks than it carved, and a list that
// claims so has a cycle (a double free) or a stray pointer.
void sort_list(SortPass& p, FreeBlock* list) {
  while (list) {
    FreeBlock* next = list->next();
    sort_block(p, list);
    list = next;
  }
}

// The same for a chain of batches of a class with batch headers, walked
// kSortLanes batches at a time, one block of each in turn, with the next
// block of each lane and its run's metadata prefetched (the run needs only
// the block's address: its page tag, in the compact pagemap). A block sorted
// at a thread's exit was freed long before and is rarely in cache, and one
// list walked block by block waits for every miss in turn (the exit reclaim's
// sort was 8.5% of mstress_mi's samples, nearly all on the link load). Each
// batch is walked for its header's count and must end at the block the
// header names.
void sort_chain(SortPass& p, FreeBlock* chain, unsigned cls) {
  if constexpr (kSortLanes <= 1) return sort_list(p, chain);
  if (!has_header(cls)) return sort_list(p, chain);
  FreeBlock* cur[kSortLanes];
  RunMeta* run[kSortLanes];  // run_checked(cur[i])
  FreeBlock* last[kSortLanes];
  uint32_t left[kSortLanes];
  unsigned lanes = 0;
  for (;;) {
    while (lanes < kSortLanes && chain) {
      run[lanes] = run_checked(chain);  // before its header is read
      __builtin_prefetch(run[lanes], 1);
      uint32_t n = batch_count(chain, cls);
      if (HZ_UNLIKELY(n == 0)) heap_corruption("a free list's batch header was overwritten", chain);
      cur[lanes] = chain;
      last[lanes] = batch_last(chain, cls);
      if (HZ_UNLIKELY(arena_offset(last[lanes]) >= pagemap_size()))
        heap_corruption("a free list's batch header was overwritten", chain);
      left[lanes] = n;
      chain = last[lanes]->next();
      if (chain) __builtin_prefetch(chain);
      ++lanes;
    }
    if (!lanes) return;
    for (unsigned i = 0; i < lanes;) {
      FreeBlock* b = cur[i];
      if (--left[i] == 0) {
        if (HZ_UNLIKELY(b != last[i])) heap_corruption("a free list does not match its batch header", b);
        sort_into(p, b, run[i]);
        --lanes;  // the last lane takes this one's place
        cur[i] = cur[lanes];
        run[i] = run[lanes];
        last[i] = last[lanes];
        left[i] = left[lanes];
        continue;
      }
      FreeBlock* next = b->next();
      if (HZ_UNLIKELY(!next)) heap_corruption("a free list is shorter than its count", b);
      __builtin_prefetch(next);
      RunMeta* r = run_checked(next);
      __builtin_prefetch(r, 1);
      sort_into(p, b, run[i]);
      cur[i] = next;
      run[i] = r;
      ++i;
    }
  }
}

// Something for the decay to reclaim in a shard: owner-side traffic since its
// last reclaim, remote frees waiting in its stash, or a drain's remainder.
bool has_news(Shard& sh, uint32_t events) {
  if (events != sh.decay_reclaimed) return true;
  for (unsigned c = 1; c < kNumClasses; ++c)
    if (sh.stash[c].pending() || sh.drained[c].load(std::memory_order_relaxed) ||
        run_remote::pending(static_cast<unsigned>(&sh - g_shards), c))
      return true;
  return false;
}

// Anything a later decay pass could still do: dirty free pages waiting for
// their delay, or news in a shard.
bool decay_pending() {
  if (arena::usage().dirty_free_bytes || pool_dirty()) return true;
  if (!g_decay_lock.try_lock()) return true;  // a pass is running: ask again later
  bool pending = false;
  for (unsigned s = 0; s < kShards && !pending; ++s)
    pending = has_news(g_shards[s], g_shards[s].events.load(std::memory_order_relaxed));
  g_decay_lock.unlock();
  return pending;
}

// Returns true when a shard's reclaim was cut short (kReclaimSliceBlocks):
// the caller runs the next pass soon, not a tick later.
bool decay_pass() {
  if (!g_decay_lock.try_lock()) return false;
  bool more = false;
  for (unsigned s = 0; s < kShards && !more; ++s) {
    Shard& sh = g_shards[s];
    uint32_t ev = sh.events.load(std::memory_order_relaxed);
    // Written only when it changed: a shard no thread ever used stays
    // untouched zero pages (7 of 8 shards faulted in 76 KiB per process).
    if (ev != sh.decay_seen) {
      sh.decay_seen = ev;
      continue;
    }
    bool cut = false;
    if (has_news(sh, ev) && reclaim_shard(s, false, 0, kSlice, &cut) != kBusy && !cut) sh.decay_reclaimed = ev;
    more = cut;
  }
  g_decay_lock.unlock();
  // Outside the decay lock: the purge lets the heap's lock go around its
  // long madvise calls, and a thread holding any lock also holds the solo
  // gate (common/solo_gate.h), which the program's own thread waits for.
  arena::purge(os::now_ms(), g_delay_ms);
  purge_pool(os::now_ms(), g_delay_ms);
  return more;
}

// The purger ticks while a decay pass has work ahead, and otherwise sleeps on
// a futex until a slow path leaves memory idle (wake_purger): an idle program
// costs no wake-ups.
constinit std::atomic<uint32_t> g_purger_idle{0};

// glibc ends the process when its last thread exits (a main that called
// pthread_exit, then its other threads): when that is the purger, it does as
// glibc would.
// The main thread, gone by pthread_exit, stays a zombie (and is counted)
// until the others end.
// True when the purger must leave instead: no cache is left and the
// process's threads cannot be counted (no /proc: a sandbox, a chroot). It
// then ends its own thread, and glibc, which counts it, ends the process if it
// was the last (the process hung for good, and the purger, which blocks every
// signal, left SIGTERM pending); a later free starts it again.
bool exit_if_last() {
  if (live_thread_count() != 0) return false;
  unsigned n = os::thread_count();
  if (n == 0) return true;
  if (n == 1 || (n == 2 && os::main_thread_gone())) exit(0);
  return false;
}

void* purger_leave() {
  g_purger_idle.store(0, std::memory_order_relaxed);
  g_purger_started.store(false);
  return nullptr;
}

// The tick's sleep, cut short when the last thread cache goes
// (note_last_cache_gone): a main that called pthread_exit must not wait a
// whole tick (1.25 s at a 5 s delay) for its process to end.
constinit std::atomic<uint32_t> g_last_gone{0};

void tick_sleep(uint32_t ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  if (!g_last_gone.load(std::memory_order_acquire))
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_last_gone), FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
  g_last_gone.store(0, std::memory_order_relaxed);
}

void* purger_main(void*) {
  pthread_setname_np(pthread_self(), "hz-purge");
  bool armed = false;
  uint32_t gone_wait = 1;
  for (;;) {
    uint32_t tick = g_delay_ms / 4 ? g_delay_ms / 4 : 1;
    // No cache left: the last thread may be on its way out. It is not a
    // zombie yet when its cache goes, so look again soon, then less often.
    if (live_thread_count() == 0) {
      tick_sleep(gone_wait < tick ? gone_wait : tick);
      gone_wait = gone_wait < 512 ? gone_wait * 2 : gone_wait;
    } else {
      gone_wait = 1;
      tick_sleep(tick);
    }
    if (exit_if_last()) return purger_leave();
    // A cut reclaim goes on at once, the shard's lock let go in between, for
    // at most a tick (remote frees may keep arriving).
    for (uint32_t start = os::now_ms(); decay_pass() && os::now_ms() - start < tick;) sched_yield();
    bool held = idle::tick(os::now_ms(), g_delay_ms);
    if (held || decay_pending()) {
      armed = false;
      continue;
    }
    // Nothing to do: every cache is asked to wake the purger, and it looks
    // once more a tick later (a cache filled just before the flag was set is
    // seen by then), under the idle flag.
    if (!armed) {
      idle::arm_wake();
      armed = true;
      continue;
    }
    armed = false;
    g_purger_idle.store(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Pairs with the fence in wake_purger: work published before a waker saw
    // idle == 0 is seen here.
    if (decay_pending() || idle::holds_any()) {
      g_purger_idle.store(0, std::memory_order_relaxed);
      continue;
    }
    // With no thread cache left the last thread may go without a word to us
    // (one that never allocated): look again every second.
    struct timespec second = {1, 0};
    while (g_purger_idle.load(std::memory_order_acquire)) {
      if (exit_if_last()) return purger_leave();
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_purger_idle), FUTEX_WAIT_PRIVATE, 1,
              live_thread_count() == 0 ? &second : nullptr, nullptr, 0);
    }
  }
  return nullptr;
}

void wake_purger() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_purger_idle.load(std::memory_order_relaxed) && g_purger_idle.exchange(0))
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_purger_idle), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// The process the purger belongs to: set at load (before main, so before any
// vfork: a program's first malloc may come in a vfork child) and in a fork
// child. A child made without fork handlers (_Fork, a raw fork, clone) gets
// no purger either: its memory decays from its own slow paths only. Telling
// it from a vfork child by kcmp(KCMP_VM) was tried and dropped: against a
// leader gone by pthread_exit (a zombie, no memory) a vfork child looked like
// a copy and started the purger in the parent's memory, and a clone() child
// that used threads, given a purger, never ended (its function's return ends
// one thread only) (docs/boxes.md).
// A vfork child (or a clone with CLONE_VM) runs on its parent's memory: a
// purger it started would die at its exec or exit, leaving the parent
// flagged as having one (no decay ever again) and glibc counting a thread it
// does not have (the parent's last pthread_exit never ended the process;
// its buffered stdout and atexit handlers were lost).
constinit pid_t g_home_pid = 0;
// getpid(), not syscall(): a program may interpose syscall() and not be
// ready for it before its own constructors ran (idle.publish_sleep).
__attribute__((constructor)) void record_home_pid() {
  if (!g_home_pid) g_home_pid = getpid();
}

// A background purger only where threads already exist (creating the first
// extra thread would end glibc's single-threaded fast paths), or where large
// spans are kept dirty (any_process: nothing else returns them once the
// program idles; such a program pays little for glibc's paths). pthread_create
// allocates (the new thread's DTV): callers must be at a point where this
// thread's cache is consistent, never in the middle of a refill or a flush.
void ensure_purger(bool any_process = false) {
  if (!g_background || g_purger_started.load(std::memory_order_relaxed) || (!any_process && live_thread_count() <= 1)) return;
  // After a failed pthread_create (EAGAIN under a thread limit), retry a
  // second later, not at every free.
  uint32_t now = os::now_ms();
  if (g_purger_failed.load(std::memory_order_relaxed) &&
      static_cast<int32_t>(now - g_purger_retry_ms.load(std::memory_order_relaxed)) < 0)
    return;
  // Not another process's (see g_home_pid). Nothing may be written here to
  // ask less often: a vfork child writes its parent's memory (a retry delay
  // so written kept a parent that freed everything meanwhile at 216 MB). A
  // multi-threaded child made without fork handlers pays a getpid per flush.
  if (getpid() != g_home_pid) return;
  if (g_purger_started.exchange(true)) return;
  // The program has one thread, this one, at a point where it holds no lock:
  // from now on its locks and the purger's exclude each other
  // (common/solo_gate.h), so that a fork from its signal handlers stays safe.
  HZ_CHECK(solo_gate::t_locks == 0, "solo gate: the purger started under a lock");
  if (__libc_single_threaded) solo_gate::g_on.store(true, std::memory_order_relaxed);
  // A small stack first; glibc carves the static TLS from it, so a program
  // with a lot of it (EINVAL) gets a thread of the default size instead.
  bool created = false;
  for (size_t stack : {size_t{64} << 10, size_t{0}}) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack) pthread_attr_setstacksize(&attr, stack);
    // The program's signals are not ours: a program that blocks a signal in
    // its threads and sigwaits for it must never see it land here.
    // SIGSYS excepted: it is only ever the thread's own (a seccomp filter
    // trapping one of its system calls), and blocked it is forced on the
    // whole process: a sandbox that traps prctl (the thread's name) to its
    // handler, which glibc's malloc never calls, was killed.
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    pthread_attr_setsigmask_np(&attr, &all);
    int err = pthread_create(&t, &attr, purger_main, nullptr);
    // Frees the sigmask's storage through us: g_purger_started must still be
    // set then, or that free would try to start the purger again, recursively.
    pthread_attr_destroy(&attr);
    created = err == 0;
    if (err != EINVAL) break;
  }
  if (!created) {
    g_purger_retry_ms.store(now + 1000, std::memory_order_relaxed);
    g_purger_failed.store(true, std::memory_order_relaxed);
    g_purger_started.store(false);
  }
}

}  // namespace

void init_from_env() {
  g_delay_ms = options::get().purge_delay_ms;
  g_background = options::get().background_purge;
  record_home_pid();  // a malloc before the constructors ran (the loader's)
}

uint32_t purge_delay_ms() { return g_delay_ms; }

namespace {
// Cuts chain after whole batches of at least *left blocks (all of it when
// *left is kNoSlice), counting them off *left; returns the rest.
FreeBlock* cut_chain(FreeBlock* chain, unsigned cls, size_t* left) {
  if (!chain || *left == kNoSlice) return nullptr;
  while (*left) {
    const uint32_t n = batch_count(chain, cls);
    *left = n < *left ? *left - n : 0;
    FreeBlock* last = batch_last(chain, cls);
    FreeBlock* rest = last->next();
    if (!rest) return nullptr;
    if (!*left) {
      last->set_next(nullptr);
      return rest;
    }
    chain = rest;
  }
  return nullptr;
}
}  // namespace

size_t reclaim_shard(unsigned s, bool wait, uint32_t idle_ms, size_t slice, bool* cut) {
  Shard& sh = g_shards[s];
  if (wait) {
    shard::excl_lock(s);
  } else if (!sh.excl.try_lock()) {
    return kBusy;
  }
  size_t released = 0, pages = 0;
  __atomic_store_n(&sh.grown, size_t{0}, __ATOMIC_RELAXED);
  for (unsigned c = 1; c < kNumClasses; ++c) {
    FreeBlock* drained = sh.drained[c].load(std::memory_order_relaxed);
    if (!sh.stash[c].pending() && !sh.central[c].pending() && !drained && !run_remote::pending(s, c)) continue;
    RunMeta* touched = nullptr;
    SortPass pass{s, &touched};
    sh.drained[c].store(nullptr, std::memory_order_relaxed);
    // Each list is drained only while the slice lasts; a cut chain's rest
    // goes back to drained, emptied above.
    FreeBlock* rest = cut_chain(drained, c, &slice);
    sort_chain(pass, drained, c);
    for (BlockLists* from : {&sh.stash[c], &sh.central[c]}) {
      if (rest || !slice) break;
      FreeBlock* chain = from->drain();
      rest = cut_chain(chain, c, &slice);
      sort_chain(pass, chain, c);
    }
    if constexpr (kRemoteLite) {
      if (!rest && slice) sort_list(pass, run_remote::take_all(s, c));
    }
    if (rest) sh.drained[c].store(rest, std::memory_order_relaxed);
    for (RunMeta* r = touched, *next; r; r = next) {
      next = r->touched;  // r may be released below, and carved again at once elsewhere
      r->in_pass = 0;
      if (r->nfree == r->carved) {
        if (r->partial) partial_unlink(sh, c, r);
        if (sh.carve[c] == r) sh.carve[c] = nullptr;
        pages += r->npages;
        r->nfree = 0;
        r->free_list = nullptr;
        release_run(r, idle_ms);
        ++released;
      } else if (!r->partial) {
        partial_link(sh, c, r);
      }
    }
    if (!slice) {
      stats::add(stats::kReclaimCut, 1);
      if (cut) *cut = true;
      break;
    }
  }
  shard::excl_unlock(s);
  stats::add(stats::kReclaimRuns, released);
  stats::add(stats::kReclaimPages, pages);
  return released;
}

size_t reclaim_all(bool wait) {
  size_t n = 0;
  for (unsigned s = 0; s < kShards; ++s) {
    size_t r = reclaim_shard(s, wait);
    if (r != kBusy) n += r;
  }
  return n;
}

bool on_exhaustion(size_t pages_needed, bool patient) {
  if constexpr (!kExhaustionReclaim) return false;
  stats::add(stats::kEmergencyFlush, 1);
  if constexpr (kHardened) hardened::flush_spans();
  ThreadCache* tc = t_cache;
  if (tc->live) {
    idle::Busy busy(tc);
    thread_flush_all(tc->real);
  }
  g_flush_epoch.fetch_add(1, std::memory_order_relaxed);
  // Sleeping threads do not honour the epoch: their caches are taken now.
  idle::take_all_now();
  // Reclaim; if that is not enough, give the other threads a few slow paths'
  // time to honour the flush request, and reclaim again (bounded). Only where
  // that can help: other threads hold caches, and what they can hold at most
  // covers what is missing (else a failing malloc cost 31 ms of sleeps).
  for (int attempt = 0; attempt < (patient ? 5 : 1); ++attempt) {
    reclaim_all(true);
    arena::wait_purges();  // pages out of the lists being purged by other threads
    const size_t have = arena::pages_available();
    if (have >= pages_needed) return true;
    const size_t others = live_thread_count() - (tc->live ? 1 : 0);
    if (!patient || others == 0 || pages_needed - have > others * kThreadKeepMaxPages) break;
    stats::add(stats::kExhaustionWait, 1);
    struct timespec ts = {0, 1000000L << attempt};
    syscall(SYS_nanosleep, &ts, nullptr);  // libc's is a cancellation point: none inside malloc
  }
  return false;
}

FreeBlock* steal(unsigned cls, unsigned my_shard) {
  if constexpr (!kExhaustionReclaim) return nullptr;
  for (unsigned s = 0; s < kShards; ++s) {
    Shard& sh = g_shards[s];
    if (s == my_shard || (!sh.central[cls].pending() && !sh.stash[cls].pending() &&
                          !sh.drained[cls].load(std::memory_order_relaxed) && !__atomic_load_n(&sh.partial[cls], __ATOMIC_RELAXED)))
      continue;
    shard::excl_lock(s);
    FreeBlock* list = sh.drained[cls].exchange(nullptr, std::memory_order_relaxed);
    if (!list) list = sh.central[cls].drain();
    if (!list) list = sh.stash[cls].drain();
    if (!list) list = partial_take(sh, cls);
    shard::excl_unlock(s);
    if (list) {
      stats::add(stats::kSteal, 1);
      return list;
    }
  }
  return nullptr;
}

// Under a tight RLIMIT_AS (arena::limit_tight) what the heap holds idle is
// address space that the program's own mmap and thread stacks may need at
// once, and that glibc's free gives back at once (its heap's top). The decay
// waits for a shard to be idle and then for the delay, which a thread that
// goes on with fast paths only never reaches (a single-threaded program has
// no purger): so the caller's shard is reclaimed now, whatever its traffic
// (each thread's own flushes cover its shard; the purger, idle ones), and
// free spans over the limit's share are unmapped. At every such slow path:
// once a millisecond left the frees of the loop's last millisecond for good
// (1 run in 5 of preload.rlimit.set's fast step).
void limit_pass(uint32_t now) {
  // The cache behind a counting front (HAKOZUNA_STATS=1); kNoShard: a
  // thread's teardown, or no small block yet.
  const ThreadCache* tc = t_cache->real ? t_cache->real : t_cache;
  const unsigned s = tc->shard;
  if (s < kShards && g_decay_lock.try_lock()) {
    Shard& sh = g_shards[s];
    uint32_t ev = sh.events.load(std::memory_order_relaxed);
    bool cut = false;
    if (has_news(sh, ev) && reclaim_shard(s, false, 0, kSlice, &cut) != kBusy && !cut) sh.decay_reclaimed = ev;
    g_decay_lock.unlock();
  }
  arena::unmap_for_limit(now);
}

void note_idle_memory(bool kept_large) {
  uint32_t now = os::now_ms();
  if (HZ_UNLIKELY(arena::limit_tight())) limit_pass(now);
  if (static_cast<int32_t>(now - g_next_decay_ms.load(std::memory_order_relaxed)) >= 0) {
    g_next_decay_ms.store(now + (g_delay_ms / 4 ? g_delay_ms / 4 : 1), std::memory_order_relaxed);
    // Cut short: the purger goes on with it, or else the next slow path.
    if (decay_pass() && !g_purger_started.load(std::memory_order_relaxed))
      g_next_decay_ms.store(now, std::memory_order_relaxed);
  }
  ensure_purger(kept_large);
  wake_purger();
}

void note_remote_frees() { wake_purger(); }

void note_last_cache_gone() {
  if (!g_purger_started.load(std::memory_order_relaxed)) return;
  g_last_gone.store(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_last_gone), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void start_background() { ensure_purger(); }

size_t trim() {
  // The caller's own bins and spill are bounded and about to be reused (glibc
  // leaves its tcache alone too); its pending remote frees go home. Then only
  // shards with news are reclaimed, and reclaim sorts only what arrived since
  // its last pass: a trim costs what it returns, not what sits free.
  ThreadCache* tc = t_cache;
  if (tc->live) {
    idle::Busy busy(tc);
    remote_stash_flush(tc->real->remote);
  }
  for (unsigned s = 0; s < kShards; ++s) {
    Shard& sh = g_shards[s];
    uint32_t ev = sh.events.load(std::memory_order_relaxed);
    if (!sh.arrived.load(std::memory_order_relaxed) && ev == sh.trim_seen.load(std::memory_order_relaxed)) continue;
    sh.arrived.store(0, std::memory_order_relaxed);
    reclaim_shard(s, true);
    sh.trim_seen.store(ev, std::memory_order_relaxed);
  }
  return arena::purge(os::now_ms(), 0);  // under RLIMIT_AS free spans' address space too
}

void fork_child_unlocked() {
  g_home_pid = getpid();
  g_purger_started.store(false, std::memory_order_relaxed);
  g_purger_idle.store(0, std::memory_order_relaxed);
}

void fork_child() {
  fork_child_unlocked();
  // The child has no purger: what its parent kept dirty goes now, the spare
  // too. Nothing would return it while the child idles, and it costs nothing
  // to purge: shared with the parent, each page would fault on its first
  // write anyway.
  arena::purge(os::now_ms(), 0);
  g_decay_lock.reset();
}

}  // namespace hz::budget
