#include "remote/run_remote.h"

#include "budget/budget.h"
#include "shard/shard.h"

namespace hz::run_remote {

constinit RunQueue g_runq[kRemoteLite ? kShards : 1];

namespace {

// The next queued run of cls: the rest of the last queue taken, else the
// queue itself, taken whole with one exchange (a single-run pop would be a
// Treiber pop, ABA and all). Its link is read here, before its flag is
// cleared: a notify that queues it again rewrites the link. (Templates here
// and below: RunMeta::remote has these members only in the lane.)
template <class Run>
Run* next_run(RunQueue& q, unsigned cls) {
  Run* r = q.held[cls];
  if (!r) {
    if (!q.head[cls].load(std::memory_order_relaxed)) return nullptr;
    r = q.head[cls].exchange(nullptr, std::memory_order_acquire);
    stats::add(stats::kRlPageqDrain, 1);
  }
  __atomic_store_n(&q.held[cls], next_of(r), __ATOMIC_RELAXED);  // peeked by pending()
  return r;
}

// Clears the flag, then takes the list: in this order no wake-up is lost
// (see the header). The exchange releases the cleared flag to the next push.
template <class Run>
uintptr_t take_list(Run* r) {
  queued_of(r).store(0, std::memory_order_relaxed);
  uintptr_t head = list_of(r).exchange(0, std::memory_order_acq_rel);
  if (head) stats::add(stats::kRlRunsDrained, 1);
  return head;
}

// The last block of a run's list of n blocks. Bounded by n: a double free
// that made a cycle is reported, not walked forever.
FreeBlock* list_tail(FreeBlock* first, uint32_t n) {
  FreeBlock* t = first;
  for (uint32_t i = 1; i < n; ++i) {
    t = t->next();
    if (HZ_UNLIKELY(!t)) heap_corruption("a run's remote list is shorter than its count", first);
  }
  if (HZ_UNLIKELY(t->next())) heap_corruption("a run's remote list is longer than its count: double free?", t);
  return t;
}

}  // namespace

void notify(RunMeta* r, unsigned cls, unsigned owner) {
  if constexpr (kRemoteLite) {
    stats::add(stats::kRlNotify, 1);
    if (queued_of(r).exchange(1, std::memory_order_acq_rel)) return;  // queued already, not drained yet
    std::atomic<RunMeta*>& q = g_runq[owner].head[cls];
    RunMeta* old = q.load(std::memory_order_relaxed);
    do {
      next_of(r) = old;
    } while (!q.compare_exchange_weak(old, r, std::memory_order_release, std::memory_order_relaxed));
    // News for malloc_trim and the decay, which may be all that ever looks
    // at an owner that stopped allocating.
    Shard& sh = g_shards[owner];
    if (!sh.arrived.load(std::memory_order_relaxed)) sh.arrived.store(1, std::memory_order_relaxed);
    budget::note_remote_frees();
  }
}

// One list per refill: its blocks, each a line another core wrote, are
// touched only as they are handed out, where the misses overlap with the
// program's work. (Filling a whole batch from several lists walks every list
// but the first to its tail: 0.86-0.95 of this at T=2 and 8, R=50 and 90.)
bool refill_runs(Bin& bin, unsigned shard, unsigned cls) {
  if constexpr (kRemoteLite) {
    RunQueue& q = g_runq[shard];
    while (RunMeta* r = next_run<RunMeta>(q, cls)) {
      uintptr_t head = take_list(r);
      if (!head) continue;  // a reclaim took its blocks while it waited
      FreeBlock* first = list_first(head);
      uint32_t n = list_count(head);
      if (bin.head || kDebugChecks) list_tail(first, n)->set_next(bin.head);  // (debug: checks the count)
      bin.head = first;
      bin.add(n);
      return true;
    }
  }
  return false;
}

FreeBlock* take_all_runs(unsigned shard, unsigned cls) {
  FreeBlock* all = nullptr;
  if constexpr (kRemoteLite) {
    RunQueue& q = g_runq[shard];
    while (RunMeta* r = next_run<RunMeta>(q, cls)) {
      uintptr_t head = take_list(r);
      if (!head) continue;
      list_tail(list_first(head), list_count(head))->set_next(all);
      all = list_first(head);
    }
  }
  return all;
}

}  // namespace hz::run_remote
