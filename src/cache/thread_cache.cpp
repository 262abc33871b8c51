// The thread cache's life: storage for caches, set-up at a thread's first
// call, teardown at its exit (and the caches of threads gone without one),
// allocation after teardown, the slow paths the fast paths call (refills are
// in refill.cpp), and fork.
#include "cache/thread_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "budget/budget.h"
#include "budget/idle_return.h"
#include "cache/refill.h"
#include "cache/remote_free.h"
#include "check/hardened.h"
#include "options/options.h"
#include "os/os.h"
#include "remote/run_remote.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz {

// Constant-initialised: malloc can run before any constructor.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // the rest: zero
constinit ThreadCache g_empty_cache{.shard = kNoShard};
#pragma GCC diagnostic pop
// All zero (.bss): every size maps to its unused bin (no head) and every slot
// reads magic 0.
constinit BinRegion g_empty_region{};
constinit BinTables g_empty_tables = [] {
  BinTables t{};
  for (Bin*& b : t.by_size) b = &g_empty_region.none;
  for (Bin*& b : t.by_class) b = &g_empty_region.none;
  return t;
}();

HZ_TLS ThreadCache* t_cache = &g_empty_cache;
HZ_TLS char* t_bins = reinterpret_cast<char*>(&g_empty_region);
HZ_TLS BinTables* t_sizes = &g_empty_tables;
static HZ_TLS uint8_t t_dead;

namespace {

// ---- thread cache storage: recycled, never returned to the OS ----

constinit SpinLock g_pool_lock;  // also guards the live list
constinit ThreadCache* g_pool = nullptr;
constinit ThreadCache* g_live = nullptr;
constinit char* g_chunk = nullptr;
constinit size_t g_chunk_left = 0;
constinit bool g_chunk_zeroed = true;  // the chunk's pages are fresh (read as zero)
constinit uint64_t g_folded[3] = {0, 0, 0};
constinit std::atomic<unsigned> g_live_threads{0};
constinit std::atomic<unsigned> g_pool_dirty{0};  // pooled caches holding pages (HZ_POOL_PURGE)

// A cache and its bin region are one unit, the region first (page-aligned).
// Only the region's tables (rewritten whole by init_bins()) and its owner's
// bins are ever written: reuse zeroes those bins (unless it keeps them and the
// tables, on the same shard: HZ_TC_KEEP_TABLES), and a dirty chunk has the
// other owners' room purged rather than written.
constexpr size_t kRegionBytes = (sizeof(BinRegion) + 63) & ~size_t{63};
constexpr size_t kUnit = (kRegionBytes + sizeof(ThreadCache) + kPageSize - 1) & ~(kPageSize - 1);
// purge_pool keeps the page where the cache starts, with what the pool reads.
static_assert(kRegionBytes % kPageSize + offsetof(ThreadCache, remote) <= kPageSize,
              "a pooled cache's links must share its first page");

void zero_cache(ThreadCache* tc, BinRegion* r, bool whole_region) {
  memset(static_cast<void*>(tc), 0, sizeof *tc);
  tc->region = r;
  // The tables are written whole by init_bins(); none must read zero.
  memset(static_cast<void*>(&r->none), 0, sizeof r->none);
  if (!whole_region) return;
  char* bytes = reinterpret_cast<char*>(r->by_owner);
  constexpr size_t kBytes = sizeof r->by_owner;
  // Page-aligned inside: the region starts a page (kUnit is a page multiple).
  constexpr size_t kFrom = (kBinHeader + kPageSize - 1) / kPageSize * kPageSize - kBinHeader;
  constexpr size_t kTo = (kBinHeader + kBytes) / kPageSize * kPageSize - kBinHeader;
  if constexpr (kTo > kFrom) {
    memset(bytes, 0, kFrom);
    os::purge(bytes + kFrom, kTo - kFrom);
    memset(bytes + kTo, 0, kBytes - kTo);
  } else {
    memset(bytes, 0, kBytes);
  }
}

// A pooled cache was emptied by its teardown (thread_flush_all): its remote
// stash and spill hold no blocks. Only the rest is cleared; the two big
// arrays (20 of its 21 KiB) keep stale pointers and keys, which nothing reads
// while their counts are zero (a stale group key is replaced at first use).
void recycle(ThreadCache* tc) {
  BinRegion* r = tc->region;
  if constexpr (kDebugChecks) {
    for (const RemoteGroup& g : tc->remote.groups) HZ_CHECK(g.count == 0 && !g.head, "a pooled cache holds remote frees");
    for (uint16_t n : tc->spill.n) HZ_CHECK(n == 0, "a pooled cache holds spilled blocks");
  }
  char* base = reinterpret_cast<char*>(tc);
  auto zero = [base](size_t from, size_t to) { memset(base + from, 0, to - from); };
  constexpr size_t kRemote = offsetof(ThreadCache, remote), kSpill = offsetof(ThreadCache, spill);
  zero(0, kRemote);
  zero(kRemote + offsetof(RemoteStash, pending), kSpill);
  zero(offsetof(ThreadCache, flush_epoch), sizeof *tc);
  tc->region = r;
  memset(static_cast<void*>(&r->none), 0, sizeof r->none);  // as zero_cache()
}

// want: the shard the cache is for (kNoShard: a counting front). *kept tells
// whether its region's tables and bins were left as its last thread on that
// shard had them (HZ_TC_KEEP_TABLES): then init_bins() need not write them.
ThreadCache* tc_alloc(unsigned want, bool* kept) {
  *kept = false;
  LockGuard g(g_pool_lock);
  ThreadCache* tc = g_pool;
  if (tc) {
    ThreadCache** link = &g_pool;
    if constexpr (kTcKeepTables) {
      if (want < kShards) {
        ThreadCache** l = &g_pool;
        for (unsigned i = 0; *l && i < kTcKeepScan; ++i, l = &(*l)->next_live)
          if ((*l)->shard == want) {
            link = l;
            break;
          }
        tc = *link;
      }
    }
    *link = tc->next_live;
    if (!tc->pool_clean) g_pool_dirty.fetch_sub(1, std::memory_order_relaxed);
    BinRegion* r = tc->region;
    // Teardown (thread_flush_all) left every bin of its shard empty with its
    // constants in place. Another shard: they are zeroed, so that a free of a
    // block of the old shard reads magic 0 there and takes the slow path.
    *kept = kTcKeepTables && want < kShards && tc->shard == want;
    if (!*kept && tc->shard < kShards) memset(static_cast<void*>(r->by_owner[tc->shard]), 0, sizeof r->by_owner[0]);
    if constexpr (kTcRecycle) recycle(tc);
    else zero_cache(tc, r, false);  // fresh chunks are zero already: left untouched
  } else {
    if (g_chunk_left < kUnit) {
      // Pages of the arena itself (their tags stay 0: free() refuses them):
      // under a tight RLIMIT_AS a mapping of its own may be refused while
      // the arena holds free address space.
      constexpr size_t kChunk = kUnit > (size_t{1} << 19) ? kUnit : size_t{1} << 20;
      bool zeroed = false;
      if (RunMeta* m = arena::alloc_span(kChunk >> kPageShift, 1, &zeroed)) {
        g_chunk = static_cast<char*>(arena::page_addr(arena::page_of(m)));
        g_chunk_zeroed = zeroed;
      } else {
        g_chunk = static_cast<char*>(os::reserve(kChunk));
        g_chunk_zeroed = true;
      }
      if (!g_chunk) return nullptr;
      g_chunk_left = kChunk;
    }
    auto* r = reinterpret_cast<BinRegion*>(g_chunk);
    tc = reinterpret_cast<ThreadCache*>(g_chunk + kRegionBytes);
    if (!g_chunk_zeroed) zero_cache(tc, r, true);
    tc->region = r;
    g_chunk += kUnit;
    g_chunk_left -= kUnit;
  }
  tc->shard = kNoShard;  // until init_bins(): pooled again before it, it is not "kept"
  tc->next_live = g_live;
  if (g_live) g_live->prev_live = tc;
  g_live = tc;
  return tc;
}

void tc_free(ThreadCache* tc) {
  tc->pooled_ms = os::now_ms();
  tc->pool_clean = 0;
  LockGuard g(g_pool_lock);
  g_pool_dirty.fetch_add(1, std::memory_order_relaxed);
  if (tc->prev_live) tc->prev_live->next_live = tc->next_live; else g_live = tc->next_live;
  if (tc->next_live) tc->next_live->prev_live = tc->prev_live;
  g_folded[0] += tc->n_alloc;
  g_folded[1] += tc->n_free;
  g_folded[2] += tc->n_remote;
  tc->next_live = g_pool;
  g_pool = tc;
}

// The caches pooled for delay_ms and not yet purged, out of the pool in one
// walk, linked through next_live (they are purged outside the lock: a
// thread set-up meanwhile takes another, or a fresh one).
ThreadCache* take_stale(uint32_t now, uint32_t delay_ms) {
  LockGuard g(g_pool_lock);
  ThreadCache* stale = nullptr;
  for (ThreadCache** l = &g_pool; *l;) {
    ThreadCache* tc = *l;
    if (!tc->pool_clean && now - tc->pooled_ms >= delay_ms) {
      *l = tc->next_live;
      tc->next_live = stale;
      stale = tc;
      g_pool_dirty.fetch_sub(1, std::memory_order_relaxed);
    } else {
      l = &tc->next_live;
    }
  }
  return stale;
}

// ---- process state ----

constinit std::atomic<int> g_init_state{0};  // 0: not yet, 2: ready
constinit SpinLock g_init_lock;
pthread_key_t g_key;

void key_destructor(void* p) {
  if (p) thread_teardown(static_cast<ThreadCache*>(p));
}

// The thread's bins at its shard's place in its region, and the region's
// tables pointing at them.
void init_bins(ThreadCache* tc, unsigned shard, bool kept) {
  BinRegion* r = tc->region;
  tc->shard = shard;
  tc->bins = r->by_owner[shard];
  if (kept) {
    if constexpr (kDebugChecks) {
      for (unsigned c = 1; c < kNumClasses; ++c) {
        const Bin& b = tc->bins[c];
        HZ_CHECK(b.head == nullptr && b.room == static_cast<int32_t>(b.max), "a kept bin holds blocks");
        HZ_CHECK(b.key == kTables.key[c] && b.cls == c && b.magic == kDivMagic[c], "a kept bin lost its constants");
        HZ_CHECK(r->tables.by_class[c] == &b, "a kept class table points elsewhere");
      }
      for (size_t i = 0; i <= kLookupMax / kSizeTableStep; ++i)
        HZ_CHECK(r->tables.by_size[i] == &tc->bins[kClassLookup[(i * kSizeTableStep + 15) >> 4]], "a kept size table points elsewhere");
    }
    return;
  }
  for (unsigned c = 1; c < kNumClasses; ++c) {
    tc->bins[c].key = kTables.key[c];
    tc->bins[c].cls = c;
    tc->bins[c].magic = kDivMagic[c];
    r->tables.by_class[c] = &tc->bins[c];
  }
  // Each class's run of size indices in turn (a plain fill, where a lookup
  // per index cost 10 instructions each: 10 000 per thread set-up), its end
  // computed once per class so that the inner loop is a bare store loop
  // (vectorised: ~1 000 instructions for the 1025 entries, where the bound
  // tested at every index cost 8 000).
  constexpr size_t kLast = kLookupMax / kSizeTableStep;
  for (size_t c = 1, i = 0; i <= kLast; ++c) {
    const size_t end = kClasses[c].size / kSizeTableStep < kLast ? kClasses[c].size / kSizeTableStep : kLast;
    Bin* const b = &tc->bins[c];
    for (; i <= end; ++i) r->tables.by_size[i] = b;
  }
}

void init_cache(ThreadCache* tc, unsigned shard, bool kept) {
  init_bins(tc, shard, kept);
  tc->real = tc;
  // Slow start: a new thread's bins begin small and double at each refill or
  // overflow, so a short-lived thread (or process) touches a few blocks per
  // class, not a whole batch of pages.
  for (unsigned c = 1; c < kNumClasses; ++c)
    tc->bins[c].set_max(kClasses[c].bin_max < kSlowStartMax ? kClasses[c].bin_max : kSlowStartMax);
  if constexpr (!kTcRecycle) remote_stash_init(tc->remote);  // recycle() checks its own
  tc->live = 1;
  tc->flush_epoch = budget::g_flush_epoch.load(std::memory_order_relaxed);
}

// A thread whose cache is torn down may still allocate: later rounds of
// pthread key destructors, or thread_local destructors that run after ours.
// A cache made for it now would never be torn down (glibc's rounds end), so
// it allocates from one shared cache under a lock instead; its frees go home
// as remote frees (free_remote).
constinit SpinLock g_orphan_lock;
constinit ThreadCache* g_orphan = nullptr;

HZ_NOINLINE void* alloc_after_teardown(unsigned cls) {
  LockGuard g(g_orphan_lock);
  if (!g_orphan) {
    unsigned shard = shard::acquire();
    bool kept;
    ThreadCache* tc = tc_alloc(shard, &kept);
    if (!tc) {
      shard::release(shard);
      errno = ENOMEM;
      return nullptr;
    }
    init_cache(tc, shard, kept);
    g_orphan = tc;
  }
  g_orphan->n_alloc += stats::counting();
  return pop_or_refill(g_orphan, cls);
}

}  // namespace

// ---- slow paths called from the fast paths ----

void* alloc_refill_size(size_t index) { return alloc_refill(kClassLookup[(index * kSizeTableStep + 15) >> 4]); }
void* alloc_refill_medium(size_t index) { return alloc_refill(kTables.medium[index]); }

void* alloc_refill(unsigned cls) {
  ThreadCache* tc = t_cache;
  if (HZ_UNLIKELY(!tc->live)) {
    if (HZ_UNLIKELY(t_dead)) return alloc_after_teardown(cls);
    tc = thread_setup();
    if (!tc) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  idle::Busy busy(tc);
  if (HZ_UNLIKELY(tc->counting)) return stats::front_alloc(tc, cls);
  return pop_or_refill(tc, cls);
}

namespace {
void flush_bin_of(ThreadCache* tc, Bin* bin) {
  unsigned cls = class_of_bin(tc, bin);
  Bin& b = *bin;
  // A count past 2^31 is one that wrapped below zero: more blocks were popped
  // than the bin held (a cycle made by a double free).
  if (HZ_UNLIKELY(b.room > static_cast<int32_t>(b.max))) heap_corruption("a free list outlived its count: double free?", b.head);
  if (slow_start_grow(b, cls) && b.room >= 0) return;
  unsigned n = b.count() / 2;
  // Half the bin goes to central in one CAS, cut into batches of the class's
  // refill size so that a refill takes back what it needs and no more.
  const unsigned per = kClasses[cls].batch;
  FreeBlock* head = b.head;
  FreeBlock* first = head;
  FreeBlock* cut = head;
  // A count, not i % per: the division was most of this loop's time
  // (glibc_simple's batches of 1600 flush nearly every block they free).
  unsigned in_batch = 0;
  for (unsigned i = 1; i <= n; ++i, cut = cut->next()) {
    if (HZ_UNLIKELY(!cut->next())) heap_corruption("a free list is shorter than its count", head);
    if (++in_batch == per || i == n) {
      set_batch(first, cut, in_batch, cls);
      first = cut->next();
      in_batch = 0;
    }
    if (i == n) break;
  }
  b.head = cut->next();
  b.room += static_cast<int32_t>(n);
  g_shards[tc->shard].central[cls].push(head, cut);
  g_shards[tc->shard].events.fetch_add(1, std::memory_order_relaxed);
  stats::add(stats::kFlush, 1);
  budget::note_idle_memory();
}

}  // namespace

void flush_bin(Bin* b) {
  idle::Busy busy(t_cache);
  flush_bin_of(t_cache, b);
}

// The cases of a remote free that free_remote() leaves: a thread not set up (its
// first call, or after its teardown), a counting front, the purger not yet
// started, lane r90.
void free_remote_slow(FreeBlock* b, unsigned cls, unsigned owner) {
  ThreadCache* tc = t_cache;
  if (HZ_UNLIKELY(!tc->live)) {
    // A thread's first call, or a free after its cache was torn down.
    tc = t_dead ? nullptr : thread_setup();
    if (!tc) {
      stats::add(stats::kFree, 1);
      stats::add(stats::kRemoteFree, 1);
      return remote_push_one(b, cls, owner);
    }
  }
  idle::Busy busy(tc);
  if (HZ_UNLIKELY(tc->counting)) stats::front_free(tc, b, cls, owner);
  ThreadCache* real = tc->real;
  if (owner == real->shard) {  // a first free, or a counting front
    Bin& bin = real->bins[cls];
    b->set_next(bin.head);
    bin.head = b;
    if (--bin.room < 0) flush_bin_of(real, &bin);
    return;
  }
  if (HZ_UNLIKELY(tc->counting)) tc->n_remote++;
  if (keep_remote(real, b, cls)) {
    stats::add(stats::kRemoteKeep, 1);
    budget::ensure_background();
    return;
  }
  // The page-level remote lane (HZ_REMOTE_LITE) takes it onto its run's list.
  if (!kRemoteLite || !run_remote::push(b, cls, owner)) remote_stash_add(real->remote, b, cls, owner);
  // Remote frees call no other slow path that would start the purger; here,
  // after the free, the cache is consistent for pthread_create's allocation.
  budget::ensure_background();
}

// ---- lifecycle ----

bool ensure_process_init() {
  if (HZ_LIKELY(g_init_state.load(std::memory_order_acquire) == 2)) return true;
  bool first = false;
  g_init_lock.lock();
  if (g_init_state.load(std::memory_order_relaxed) == 0) {
    options::parse();
    if constexpr (kHardened) hardened::init();
    if (!arena::init()) {
      g_init_lock.unlock();
      return false;
    }
    stats::init_from_env();
    budget::init_from_env();
    pthread_key_create(&g_key, key_destructor);
    g_init_state.store(2, std::memory_order_release);
    first = true;
  }
  g_init_lock.unlock();
  // May allocate: only once the allocator is usable.
  if (first) register_fork_handlers();
  return true;
}

// Our fork handlers go in before any other (cache/fork_order.cpp); without
// that box, from this constructor or the first allocation, whichever comes
// first (the loader's, another library's constructor).
namespace {
__attribute__((constructor)) void register_fork_handlers_early() { register_fork_handlers(); }
}  // namespace

bool process_ready() { return g_init_state.load(std::memory_order_acquire) == 2; }

namespace {
constexpr unsigned kSweepBatch = 16;  // caches released per walk of the live list
unsigned sweep_gone_threads();

// Only when there are more thread caches than threads (one read of
// /proc/self/status, 25 us here: more than the rest of a short thread's
// set-up and teardown) is the live list walked: a process with thousands of
// threads must not pay a system call per thread. The test runs at every 16th
// set-up while it finds caches of gone threads; each one that finds none
// doubles the interval, up to kSweepGapMax (HZ_SWEEP_GAP_MAX).
constexpr uint32_t kSweepGapMin = 16;
constinit std::atomic<uint32_t> g_setups{0};
constinit std::atomic<uint32_t> g_sweep_due{kSweepGapMin};
constinit std::atomic<uint32_t> g_sweep_gap{kSweepGapMin};

void maybe_sweep() {
  uint32_t n = g_setups.fetch_add(1, std::memory_order_relaxed) + 1;
  uint32_t due = g_sweep_due.load(std::memory_order_relaxed);
  // One thread claims the test; the others go on.
  if (static_cast<int32_t>(n - due) < 0 ||
      !g_sweep_due.compare_exchange_strong(due, n + kSweepGapMax, std::memory_order_relaxed))
    return;
  int saved = errno;
  unsigned threads = os::thread_count();
  bool leaked = threads != 0 && g_live_threads.load(std::memory_order_relaxed) > threads;
  // A full batch may leave more behind (leaks while the interval was long).
  if (leaked)
    while (sweep_gone_threads() == kSweepBatch) {
    }
  errno = saved;
  uint32_t gap = g_sweep_gap.load(std::memory_order_relaxed);
  gap = leaked ? kSweepGapMin : gap < kSweepGapMax / 2 ? gap * 2 : kSweepGapMax;
  g_sweep_gap.store(gap, std::memory_order_relaxed);
  g_sweep_due.store(n + gap, std::memory_order_relaxed);
}
}  // namespace

ThreadCache* thread_setup() {
  if (!ensure_process_init()) return nullptr;
  // The first process init may itself allocate (pthread_atfork) and so set
  // this thread up already.
  if (t_cache->live) return t_cache;
  // The shard first: the pool may hold a cache last used on it.
  unsigned shard = shard::acquire();
  bool kept;
  ThreadCache* tc = tc_alloc(stats::counting() ? kNoShard : shard, &kept);
  if (!tc) {
    shard::release(shard);
    return nullptr;
  }
  ThreadCache* front = tc;
  if (stats::counting()) {
    // The front the fast paths see: empty bins, no shard. The blocks live in
    // the real cache behind it.
    tc = tc_alloc(shard, &kept);
    if (!tc) {
      shard::release(shard);
      tc_free(front);
      return nullptr;
    }
    front->shard = kNoShard;
    front->counting = 1;
    front->live = 1;
    front->real = tc;
  }
  init_cache(tc, shard, kept);
  __atomic_store_n(&front->tid, static_cast<int>(gettid()), __ATOMIC_RELAXED);
  // A second thread allocates: the program is no longer single-threaded,
  // and the solo gate would only serialise its slow paths.
  if (g_live_threads.fetch_add(1, std::memory_order_relaxed) >= 1) solo_gate::g_on.store(false, std::memory_order_relaxed);
  t_cache = front;
  t_bins = reinterpret_cast<char*>(front->counting ? &g_empty_region : tc->region);
  t_sizes = front->counting ? &g_empty_tables : &tc->region->tables;
  t_dead = 0;
  idle::attach(front);
  maybe_sweep();
  stats::add(stats::kThreadInit, 1);
  pthread_setspecific(g_key, front);  // may allocate; t_cache is already set
  return front;
}

void thread_flush_all(ThreadCache* tc) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    Bin& b = tc->bins[c];
    Spill& s = tc->spill;
    BlockLists& central = g_shards[tc->shard].central[c];
    if (b.head) push_batch(central, b.head, bin_tail(b), b.count(), c);
    // Spill already holds batches: push them as they are.
    for (unsigned i = s.first[c]; i < s.n[c]; ++i) central.push(s.array[c][i], batch_last(s.array[c][i], c));
    b.head = nullptr;
    b.room = static_cast<int32_t>(b.max);
    s.n[c] = s.first[c] = 0;
  }
  remote_stash_flush(tc->remote);
  g_shards[tc->shard].events.fetch_add(1, std::memory_order_relaxed);
}

namespace {

// Gives back everything a thread's cache holds, and the cache itself. Runs on
// the thread itself (teardown) or, for a thread that is gone, on another.
void release_cache(ThreadCache* front) {
  idle::detach(front);  // a gone thread's: no attempt may be under way
  ThreadCache* tc = front->real;
  thread_flush_all(tc);
  // The last thread of a shard sorts what it leaves back into runs, so that
  // empty runs start their decay now rather than at the next pass.
  if (shard::release(tc->shard) == 0) budget::reclaim_shard(tc->shard, true);
  stats::add(stats::kThreadExit, 1);
  tc->live = 0;
  tc_free(tc);
  if (front != tc) {
    front->live = 0;
    tc_free(front);
  }
  bool last = g_live_threads.fetch_sub(1, std::memory_order_relaxed) == 1;
  budget::note_idle_memory();
  if (last) budget::note_last_cache_gone();
}

// A thread whose first allocation came in the last round of pthread key
// destructors set up a cache that no destructor will tear down. Every few
// thread set-ups, caches of threads the kernel no longer knows are released
// here (a reused thread id only delays that; a live thread is never taken).
unsigned sweep_gone_threads() {
  ThreadCache* gone[kSweepBatch];
  unsigned n = 0;
  {
    LockGuard g(g_pool_lock);
    pid_t pid = getpid(), me = gettid();
    for (ThreadCache* c = g_live; c && n < kSweepBatch; c = c->next_live) {
      int tid = __atomic_load_n(&c->tid, __ATOMIC_RELAXED);
      if (tid == 0 || tid == me) continue;
      if (syscall(SYS_tgkill, pid, tid, 0) == 0 || errno != ESRCH) continue;
      __atomic_store_n(&c->tid, 0, __ATOMIC_RELAXED);
      gone[n++] = c;
    }
  }
  for (unsigned i = 0; i < n; ++i) release_cache(gone[i]);
  return n;
}

}  // namespace

void thread_teardown(ThreadCache* front) {
  // First: an attempt to take the cache ends before the TLS it restores is
  // cleared, and none starts after.
  idle::detach(front);
  if constexpr (kHardened) hardened::flush_quarantine();
  if (HZ_UNLIKELY(front->counting)) stats::front_exit();
  t_cache = &g_empty_cache;
  t_bins = reinterpret_cast<char*>(&g_empty_region);
  t_sizes = &g_empty_tables;
  t_dead = 1;
  __atomic_store_n(&front->tid, 0, __ATOMIC_RELAXED);  // read by sweeps under the pool lock
  release_cache(front);
}

unsigned live_thread_count() { return g_live_threads.load(std::memory_order_relaxed); }

bool pool_dirty() { return kPoolPurge && g_pool_dirty.load(std::memory_order_relaxed) != 0; }

void purge_pool(uint32_t now, uint32_t delay_ms) {
  if (!pool_dirty()) return;
  ThreadCache* stale = take_stale(now, delay_ms);
  if (!stale) return;
  ThreadCache* last = nullptr;
  uint64_t n = 0;
  for (ThreadCache *tc = stale, *next; tc; tc = next, ++n) {
    next = tc->next_live;
    // The unit, region first, reads zero after this: a fresh cache's state
    // (tc_alloc uses fresh chunks as they are), but for what the pool and
    // tc_alloc read: its region, its link, and no shard (its tables are gone).
    BinRegion* r = tc->region;
    char* unit = reinterpret_cast<char*>(r);
    char* head = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(tc) & ~(kPageSize - 1));
    os::purge(unit, static_cast<size_t>(head - unit));
    os::purge(head + kPageSize, kUnit - static_cast<size_t>(head - unit) - kPageSize);
    memset(head, 0, kPageSize);  // resident anyway: written, not purged and faulted back
    tc->region = r;
    tc->next_live = next;
    tc->shard = kNoShard;
    tc->pool_clean = 1;
    last = tc;
  }
  LockGuard g(g_pool_lock);
  last->next_live = g_pool;
  g_pool = stale;
  stats::add(stats::kPoolPurged, n);
}

unsigned collect_live(ThreadCache** out, unsigned max, bool (*pick)(ThreadCache*, void*), void* arg) {
  LockGuard g(g_pool_lock);
  unsigned n = 0;
  for (ThreadCache* tc = g_live; tc && n < max; tc = tc->next_live)
    if (pick(tc, arg)) out[n++] = tc;
  return n;
}

void live_thread_stats(uint64_t out[3]) {
  LockGuard g(g_pool_lock);
  out[0] = g_folded[0];
  out[1] = g_folded[1];
  out[2] = g_folded[2];
  for (ThreadCache* tc = g_live; tc; tc = tc->next_live) {
    out[0] += tc->n_alloc;
    out[1] += tc->n_free;
    out[2] += tc->n_remote;
  }
}

// ---- fork: the child must be able to allocate ----

// A single-threaded program may fork from a signal handler that interrupted
// one of our slow paths with a lock held: taking the locks would deadlock, and
// with one thread nothing can change under the child anyway (glibc's malloc
// skips its locks too). The same holds while this thread holds the solo gate
// (common/solo_gate.h): our purger, the only other thread, is then outside
// every lock and waits for the gate. Multi-threaded programs must not fork
// from a handler (README).
constinit bool g_fork_locked = false;

void fork_prepare() {
  g_fork_locked = !__libc_single_threaded && !solo_gate::held_by_me();
  if (!g_fork_locked) return;
  solo_gate::note_prepare();
  register_lock();       // first: a registration under way may allocate
  idle::fork_prepare();  // before the pool lock: an attempt holds both
  g_orphan_lock.lock();
  g_init_lock.lock();
  shard::lock_all();
  g_pool_lock.lock();
  arena::lock();
}

void fork_parent() {
  if (!g_fork_locked) return;
  arena::unlock();
  g_pool_lock.unlock();
  shard::unlock_all();
  g_init_lock.unlock();
  g_orphan_lock.unlock();
  idle::fork_parent();
  register_unlock();
}

void fork_child() {
  if (!g_fork_locked) {
    // The interrupted slow path holds what locks it holds, and ends them in
    // the child too; the purger is not there.
    budget::fork_child_unlocked();
    arena::fork_child(false);
    return;
  }
  idle::fork_child();
  register_reset();
  g_orphan_lock.reset();
  arena::reset_lock();
  arena::fork_child(true);
  g_pool_lock.reset();
  // Only this thread exists in the child: other caches are unreachable.
  ThreadCache* me = t_cache->live ? t_cache : nullptr;
  g_live = me;
  if (me) __atomic_store_n(&me->tid, static_cast<int>(gettid()), __ATOMIC_RELAXED);  // the sweep must not take the child's own cache
  if (me) {
    me->prev_live = nullptr;
    me->next_live = me->real != me ? me->real : nullptr;
    if (me->real != me) me->real->prev_live = me, me->real->next_live = nullptr;
  }
  shard::reset_in_child(me ? me->real->shard : kNoShard);
  g_live_threads.store(me ? 1 : 0, std::memory_order_relaxed);
  budget::fork_child();
  g_init_lock.reset();
  solo_gate::reset_in_child();  // the locks were reset, not unlocked
}

}  // namespace hz
