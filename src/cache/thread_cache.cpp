#include "cache/thread_cache.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "budget/budget.h"
#include "central/central.h"
#include "options/options.h"
#include "os/os.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz {

namespace {
constexpr ThreadCache make_empty_cache() {
  ThreadCache tc{};
  tc.shard = kNoShard;
  return tc;
}
}  // namespace
// Constant-initialised: malloc can run before any constructor.
constinit ThreadCache g_empty_cache = make_empty_cache();
__thread ThreadCache* t_cache __attribute__((tls_model("initial-exec"))) = &g_empty_cache;
static __thread uint8_t t_dead __attribute__((tls_model("initial-exec")));

namespace {

// ---- bin <-> list helpers ----

// Debug builds: a batch handed between boxes holds blocks of its class only
// and as many as its header says.
void check_batch(const FreeBlock* first, unsigned cls) {
  if constexpr (kDebugChecks) {
    uint32_t n = 0;
    const FreeBlock* b = first;
    for (;; b = b->next) {
      HZ_CHECK(arena_offset(b) < g_pagemap.size && tag_class(tag_at(arena_offset(b))) == cls,
               "list corruption: a block of the wrong class or not ours");
      if (++n == batch_count(first)) break;
    }
    HZ_CHECK(b == batch_last(first), "list corruption: batch header does not match its list");
  }
  (void)first, (void)cls;
}

// Splices whole batches from the front of chain onto the bin until it holds
// at least want blocks; returns the rest of the chain. Touches two blocks per
// batch, whatever its length.
FreeBlock* take_batches(Bin& b, FreeBlock* chain, unsigned want, unsigned cls) {
  unsigned got = 0;
  while (chain && got < want) {
    check_batch(chain, cls);
    FreeBlock* last = batch_last(chain);
    uint32_t n = batch_count(chain);
    FreeBlock* rest = last->next;
    last->next = b.head;
    b.head = chain;
    b.count += n;
    got += n;
    chain = rest;
  }
  return chain;
}

// No walk over a free list is unbounded: a program's double free can turn a
// list into a cycle, and a thread must then report it, not spin forever.

// A bin holds exactly count blocks, null-terminated.
FreeBlock* bin_tail(const Bin& b) {
  FreeBlock* t = b.head;
  for (uint32_t i = 1; i < b.count; ++i) {
    t = t->next;
    if (HZ_UNLIKELY(!t)) heap_corruption("a free list is shorter than its count", b.head);
  }
  if (HZ_UNLIKELY(t->next)) heap_corruption("a free list is longer than its count: double free?", t);
  return t;
}

// The last block of a chain of batches, hopping batch to batch; Brent's cycle
// check keeps the walk finite whatever the program did to the blocks.
FreeBlock* chain_tail(FreeBlock* chain) {
  FreeBlock* mark = chain;
  size_t power = 1, steps = 0;
  for (FreeBlock* b = chain;;) {
    FreeBlock* last = batch_last(b);
    if (!last->next) return last;
    b = last->next;
    if (HZ_UNLIKELY(b == mark)) heap_corruption("a cycle in a free list: double free?", b);
    if (++steps == power) {
      mark = b;
      power *= 2;
      steps = 0;
    }
  }
}

// ---- S112: spill first, then one full drain ----

bool refill_from_spill(ThreadCache* tc, unsigned cls, unsigned want) {
  Spill& s = tc->spill;
  Bin& b = tc->bins[cls];
  unsigned before = b.count;
  while (s.n[cls] > 0 && b.count - before < want) take_batches(b, s.array[cls][--s.n[cls]], 1, cls);
  return b.count > before;
}

// Under OwnerExcl. A drained chain fills the request, then the spill array
// (whole batches, one per slot, bounded in blocks and bytes), then stays
// whole in the shard: never pushed back, never walked. (With S112 off, the
// rest goes back to the list it came from.)
void distribute(ThreadCache* tc, unsigned cls, FreeBlock* chain, BlockLists& source, Shard& sh) {
  chain = take_batches(tc->bins[cls], chain, kClasses[cls].batch, cls);
  if (!chain) return;
  if constexpr (!kFullDrain) {
    source.push(chain, chain_tail(chain));
    return;
  }
  Spill& s = tc->spill;
  HZ_CHECK(s.n[cls] == 0 && sh.drained[cls].load(std::memory_order_relaxed) == nullptr,
           "S112: spill not empty at drain");
  const unsigned cap = kSpillCap < kSpillMaxBytes / kClasses[cls].size ? kSpillCap
                                                                          : static_cast<unsigned>(kSpillMaxBytes / kClasses[cls].size);
  for (unsigned held = 0; chain && s.n[cls] < kSpillCap && held + batch_count(chain) <= cap;) {
    check_batch(chain, cls);
    held += batch_count(chain);
    FreeBlock* last = batch_last(chain);
    FreeBlock* rest = last->next;
    last->next = nullptr;
    s.array[cls][s.n[cls]++] = chain;
    chain = rest;
  }
  if (chain) {
    sh.drained[cls].store(chain, std::memory_order_relaxed);
    stats::add(stats::kDrainedSet, 1);
  }
}

// Under OwnerExcl: the remainder of the last drain, else one full drain of
// the owner stash, else of central, else a run that reclaim sorted. Returns
// false when all are empty.
bool take_shared(ThreadCache* tc, unsigned cls, Shard& sh) {
  BlockLists* source = &sh.central[cls];
  FreeBlock* chain = sh.drained[cls].load(std::memory_order_relaxed);
  if (chain) {
    sh.drained[cls].store(nullptr, std::memory_order_relaxed);
  } else if ((chain = sh.stash[cls].drain())) {
    source = &sh.stash[cls];
    stats::add(stats::kStashExchange, 1);
  } else if ((chain = sh.central[cls].drain())) {
    stats::add(stats::kCentralDrain, 1);
  } else if ((chain = partial_take(sh, cls))) {
    stats::add(stats::kPartialTake, 1);
  } else {
    return false;
  }
  sh.events.fetch_add(1, std::memory_order_relaxed);
  distribute(tc, cls, chain, *source, sh);
  return true;
}

bool has_shared(const Shard& sh, unsigned cls) {
  return sh.drained[cls].load(std::memory_order_relaxed) || sh.stash[cls].pending() || sh.central[cls].pending() ||
         __atomic_load_n(&sh.partial[cls], __ATOMIC_RELAXED);
}

// Takes from the shard's lists under its OwnerExcl.
bool refill_shared(ThreadCache* tc, unsigned cls) {
  Shard& sh = g_shards[tc->shard];
  if constexpr (kOwnerExcl) shard::excl_lock(tc->shard);
  bool got = take_shared(tc, cls, sh);
  if constexpr (kOwnerExcl) shard::excl_unlock(tc->shard);
  return got;
}

// Before growing, one batch of free blocks that another shard holds (its
// drained remainder, stash or sorted runs). The blocks keep their owner, so
// they go home when freed. Without it, when one thread frees for many owners,
// free blocks pile up in the shards of owners that are not allocating just
// then while the others carve fresh runs, and the heap never shrinks back.
bool borrow(ThreadCache* tc, unsigned cls) {
  // Start where the last borrow succeeded: each shard looked at costs cache
  // misses on lines other threads write.
  const unsigned start = tc->borrow_hint;
  for (unsigned i = 0; i < kShards; ++i) {
    unsigned s = (start + i) % kShards;
    if (s == tc->shard) continue;
    Shard& o = g_shards[s];
    if (!has_shared(o, cls) || !o.excl.try_lock()) continue;
    FreeBlock* chain = o.drained[cls].exchange(nullptr, std::memory_order_relaxed);
    if (!chain && (chain = o.stash[cls].drain())) o.events.fetch_add(1, std::memory_order_relaxed);
    if (!chain) chain = o.central[cls].drain();
    if (!chain) chain = partial_take(o, cls);
    o.excl.unlock();
    if (!chain) continue;
    tc->borrow_hint = s;
    stats::add(stats::kBorrow, 1);
    Shard& sh = g_shards[tc->shard];
    if constexpr (kOwnerExcl) shard::excl_lock(tc->shard);
    if (sh.drained[cls].load(std::memory_order_relaxed)) {
      sh.central[cls].push(chain, chain_tail(chain));  // a shard-mate got there first
      take_shared(tc, cls, sh);
    } else {
      distribute(tc, cls, chain, sh.central[cls], sh);
    }
    if constexpr (kOwnerExcl) shard::excl_unlock(tc->shard);
    return true;
  }
  return false;
}

// Slow start: doubles a bin's limit towards its class's bin_max. Returns
// true while it is still growing.
bool slow_start_grow(Bin& b, unsigned cls) {
  if (HZ_LIKELY(b.max >= kClasses[cls].bin_max)) return false;
  b.max = 2 * b.max < kClasses[cls].bin_max ? 2 * b.max : kClasses[cls].bin_max;
  return true;
}

void refill(ThreadCache* tc, unsigned cls) {
  stats::add(stats::kRefill, 1);
  unsigned want = kClasses[cls].batch;
  Bin& bin = tc->bins[cls];
  if (slow_start_grow(bin, cls) && bin.max / 4 < want) want = bin.max / 4 ? bin.max / 4 : 1;
  if (HZ_UNLIKELY(tc->flush_epoch != budget::g_flush_epoch.load(std::memory_order_relaxed))) {
    tc->flush_epoch = budget::g_flush_epoch.load(std::memory_order_relaxed);
    thread_flush_all(tc);  // another thread ran out of arena
  }
  if (refill_from_spill(tc, cls, want)) return;
  Shard& sh = g_shards[tc->shard];
  if (has_shared(sh, cls) && refill_shared(tc, cls)) return;
  // About to grow: first hand our pending remote frees to their owners, so
  // that the other threads need not grow either. (Flushing at every refill
  // instead halves the average remote list length.)
  if (tc->remote.pending) remote_stash_flush(tc->remote);
  // Only a thread that has already grown a lot borrows: short-lived and
  // balanced threads keep to their own blocks (else every free of a borrowed
  // block is a remote free: larson runs at half speed).
  if constexpr (kBorrowBeforeGrow) {
    if (tc->carved_bytes >= kBorrowAfterBytes && borrow(tc, cls)) return;
  }
  unsigned got;
  FreeBlock* last;
  FreeBlock* head = central::carve(tc->shard, cls, want, &got, &last);
  if (HZ_UNLIKELY(!head)) {
    // Arena exhausted (S45): flush and reclaim everywhere, then carve again;
    // failing that, borrow free blocks of this class from another shard.
    for (bool patient : {false, true}) {
      if (budget::on_exhaustion(kClasses[cls].run_pages, patient)) {
        if (refill_shared(tc, cls)) return;
        head = central::carve(tc->shard, cls, want, &got, &last);
        if (head) break;
      }
      if (FreeBlock* list = budget::steal(cls, tc->shard)) {
        // Lent blocks keep their owner: a reclaim here sends them home.
        sh.central[cls].push(list, chain_tail(list));
        if (refill_shared(tc, cls)) return;
      }
    }
  }
  if (head) {
    tc->carved_bytes += size_t{got} * kClasses[cls].size;
    Bin& b = tc->bins[cls];
    last->next = b.head;
    b.head = head;
    b.count += got;
  }
}

// ---- thread cache storage: recycled, never returned to the OS ----

constinit SpinLock g_pool_lock;  // also guards the live list
constinit ThreadCache* g_pool = nullptr;
constinit ThreadCache* g_live = nullptr;
constinit char* g_chunk = nullptr;
constinit size_t g_chunk_left = 0;
constinit bool g_chunk_zeroed = true;  // the chunk's pages are fresh (read as zero)
constinit uint64_t g_folded[3] = {0, 0, 0};
constinit std::atomic<unsigned> g_live_threads{0};

ThreadCache* tc_alloc() {
  LockGuard g(g_pool_lock);
  ThreadCache* tc = g_pool;
  if (tc) {
    g_pool = tc->next_live;
    memset(static_cast<void*>(tc), 0, sizeof *tc);  // fresh chunks are zero already: left untouched
  } else {
    constexpr size_t kSize = (sizeof(ThreadCache) + 63) & ~size_t{63};
    if (g_chunk_left < kSize) {
      // Pages of the arena itself (their tags stay 0: free() refuses them):
      // under a tight RLIMIT_AS a mapping of its own may be refused while
      // the arena holds free address space.
      constexpr size_t kChunk = size_t{1} << 20;
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
    tc = reinterpret_cast<ThreadCache*>(g_chunk);
    if (!g_chunk_zeroed) memset(static_cast<void*>(tc), 0, sizeof *tc);
    g_chunk += kSize;
    g_chunk_left -= kSize;
  }
  tc->next_live = g_live;
  if (g_live) g_live->prev_live = tc;
  g_live = tc;
  return tc;
}

void tc_free(ThreadCache* tc) {
  LockGuard g(g_pool_lock);
  if (tc->prev_live) tc->prev_live->next_live = tc->next_live; else g_live = tc->next_live;
  if (tc->next_live) tc->next_live->prev_live = tc->prev_live;
  g_folded[0] += tc->n_alloc;
  g_folded[1] += tc->n_free;
  g_folded[2] += tc->n_remote;
  tc->next_live = g_pool;
  g_pool = tc;
}

// ---- process state ----

constinit std::atomic<int> g_init_state{0};  // 0: not yet, 2: ready
constinit SpinLock g_init_lock;
pthread_key_t g_key;

void key_destructor(void* p) {
  if (p) thread_teardown(static_cast<ThreadCache*>(p));
}

void init_cache(ThreadCache* tc) {
  tc->real = tc;
  // Slow start: a new thread's bins begin small and double at each refill or
  // overflow, so a short-lived thread (or process) touches a few blocks per
  // class, not a whole batch of pages.
  for (unsigned c = 1; c < kNumClasses; ++c)
    tc->bins[c].max = kClasses[c].bin_max < kSlowStartMax ? kClasses[c].bin_max : kSlowStartMax;
  remote_stash_init(tc->remote);
  tc->shard = shard::acquire();
  tc->live = 1;
  tc->flush_epoch = budget::g_flush_epoch.load(std::memory_order_relaxed);
}

// A block of cls from tc's bin, refilling it first if empty.
void* pop_or_refill(ThreadCache* tc, unsigned cls) {
  Bin& b = tc->bins[cls];
  if (!b.head) refill(tc, cls);
  FreeBlock* blk = b.head;
  if (HZ_UNLIKELY(!blk)) {
    stats::add(stats::kAllocFailed, 1);
    errno = ENOMEM;
    return nullptr;
  }
  b.head = blk->next;
  b.count--;
  return blk;
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
    ThreadCache* tc = tc_alloc();
    if (!tc) {
      errno = ENOMEM;
      return nullptr;
    }
    init_cache(tc);
    g_orphan = tc;
  }
  g_orphan->n_alloc += stats::counting();
  return pop_or_refill(g_orphan, cls);
}

}  // namespace

// ---- slow paths called from the fast paths ----

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
  if (HZ_UNLIKELY(tc->counting)) {
    tc->n_alloc++;
    tc = tc->real;
  }
  return pop_or_refill(tc, cls);
}

void flush_bin(ThreadCache* tc, unsigned cls) {
  Bin& b = tc->bins[cls];
  // A count past 2^31 is one that wrapped below zero: more blocks were popped
  // than the bin held (a cycle made by a double free).
  if (HZ_UNLIKELY(b.count > (1u << 31))) heap_corruption("a free list outlived its count: double free?", b.head);
  if (slow_start_grow(b, cls) && b.count <= b.max) return;
  unsigned n = b.count / 2;
  // Half the bin goes to central in one CAS, cut into batches of the class's
  // refill size so that a refill takes back what it needs and no more.
  const unsigned per = kClasses[cls].batch;
  FreeBlock* head = b.head;
  FreeBlock* first = head;
  FreeBlock* cut = head;
  for (unsigned i = 1; i <= n; ++i, cut = cut->next) {
    if (HZ_UNLIKELY(!cut->next)) heap_corruption("a free list is shorter than its count", head);
    if (i % per == 0 || i == n) {
      set_batch(first, cut, i % per == 0 ? per : i % per);
      first = cut->next;
    }
    if (i == n) break;
  }
  b.head = cut->next;
  b.count -= n;
  g_shards[tc->shard].central[cls].push(head, cut);
  g_shards[tc->shard].events.fetch_add(1, std::memory_order_relaxed);
  stats::add(stats::kFlush, 1);
  budget::note_idle_memory();
}

void free_remote(ThreadCache* tc, FreeBlock* b, unsigned cls, unsigned owner) {
  if (HZ_UNLIKELY(!tc->live)) {
    // A thread's first call, or a free after its cache was torn down.
    tc = t_dead ? nullptr : thread_setup();
    if (!tc) {
      stats::add(stats::kFree, 1);
      stats::add(stats::kRemoteFree, 1);
      return remote_push_one(b, cls, owner);
    }
  }
  if (HZ_UNLIKELY(tc->counting)) tc->n_free++;
  ThreadCache* real = tc->real;
  if (owner == real->shard) {  // a first free, or a counting front
    Bin& bin = real->bins[cls];
    b->next = bin.head;
    bin.head = b;
    if (++bin.count > bin.max) flush_bin(real, cls);
    return;
  }
  if (HZ_UNLIKELY(tc->counting)) tc->n_remote++;
  remote_stash_add(real->remote, b, cls, owner);
}

// ---- lifecycle ----

bool ensure_process_init() {
  if (HZ_LIKELY(g_init_state.load(std::memory_order_acquire) == 2)) return true;
  bool first = false;
  g_init_lock.lock();
  if (g_init_state.load(std::memory_order_relaxed) == 0) {
    options::parse();
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
  if (first) pthread_atfork(fork_prepare, fork_parent, fork_child);
  return true;
}

bool process_ready() { return g_init_state.load(std::memory_order_acquire) == 2; }

namespace {
constinit std::atomic<uint32_t> g_setups{0};  // sweep_gone_threads() every 16th
void sweep_gone_threads();
}  // namespace

ThreadCache* thread_setup() {
  if (!ensure_process_init()) return nullptr;
  // The first process init may itself allocate (pthread_atfork) and so set
  // this thread up already.
  if (t_cache->live) return t_cache;
  ThreadCache* tc = tc_alloc();
  if (!tc) return nullptr;
  ThreadCache* front = tc;
  if (stats::counting()) {
    // The front the fast paths see: empty bins, no shard. The blocks live in
    // the real cache behind it.
    tc = tc_alloc();
    if (!tc) {
      tc_free(front);
      return nullptr;
    }
    front->shard = kNoShard;
    front->counting = 1;
    front->live = 1;
    front->real = tc;
  }
  init_cache(tc);
  __atomic_store_n(&front->tid, static_cast<int>(gettid()), __ATOMIC_RELAXED);
  g_live_threads.fetch_add(1, std::memory_order_relaxed);
  t_cache = front;
  t_dead = 0;
  // Only when there are more thread caches than threads (one read of
  // /proc/self/status) is the live list walked: a process with thousands of
  // threads must not pay a system call per thread at every 16th set-up.
  if (g_setups.fetch_add(1, std::memory_order_relaxed) % 16 == 15) {
    int saved = errno;
    unsigned threads = os::thread_count();
    if (threads != 0 && g_live_threads.load(std::memory_order_relaxed) > threads) sweep_gone_threads();
    errno = saved;
  }
  stats::add(stats::kThreadInit, 1);
  pthread_setspecific(g_key, front);  // may allocate; t_cache is already set
  return front;
}

void thread_flush_all(ThreadCache* tc) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    Bin& b = tc->bins[c];
    Spill& s = tc->spill;
    BlockLists& central = g_shards[tc->shard].central[c];
    if (b.head) push_batch(central, b.head, bin_tail(b), b.count);
    // Spill already holds batches: push them as they are.
    for (unsigned i = 0; i < s.n[c]; ++i) central.push(s.array[c][i], batch_last(s.array[c][i]));
    b.head = nullptr;
    b.count = 0;
    s.n[c] = 0;
  }
  remote_stash_flush(tc->remote);
  g_shards[tc->shard].events.fetch_add(1, std::memory_order_relaxed);
}

namespace {

// Gives back everything a thread's cache holds, and the cache itself. Runs on
// the thread itself (teardown) or, for a thread that is gone, on another.
void release_cache(ThreadCache* front) {
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
  g_live_threads.fetch_sub(1, std::memory_order_relaxed);
  budget::note_idle_memory();
}

// A thread whose first allocation came in the last round of pthread key
// destructors set up a cache that no destructor will tear down. Every few
// thread set-ups, caches of threads the kernel no longer knows are released
// here (a reused thread id only delays that; a live thread is never taken).
void sweep_gone_threads() {
  ThreadCache* gone[16];
  unsigned n = 0;
  {
    LockGuard g(g_pool_lock);
    pid_t pid = getpid();
    for (ThreadCache* c = g_live; c && n < 16; c = c->next_live) {
      int tid = __atomic_load_n(&c->tid, __ATOMIC_RELAXED);
      if (tid == 0 || tid == gettid()) continue;
      if (syscall(SYS_tgkill, pid, tid, 0) == 0 || errno != ESRCH) continue;
      __atomic_store_n(&c->tid, 0, __ATOMIC_RELAXED);
      gone[n++] = c;
    }
  }
  for (unsigned i = 0; i < n; ++i) release_cache(gone[i]);
}

}  // namespace

void thread_teardown(ThreadCache* front) {
  t_cache = &g_empty_cache;
  t_dead = 1;
  __atomic_store_n(&front->tid, 0, __ATOMIC_RELAXED);  // read by sweeps under the pool lock
  release_cache(front);
}

unsigned live_thread_count() { return g_live_threads.load(std::memory_order_relaxed); }

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
// skips its locks too). Multi-threaded programs must not fork from a handler
// (README).
constinit bool g_fork_locked = false;

void fork_prepare() {
  g_fork_locked = !__libc_single_threaded;
  if (!g_fork_locked) return;
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
}

void fork_child() {
  if (!g_fork_locked) return;
  g_orphan_lock.reset();
  arena::reset_lock();
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
}

}  // namespace hz
