// Page-level remote lane (seed HZ4 Stage5 "remote-lite", HZ_REMOTE_LITE, lane
// r90): a remote free pushes its block onto an MPSC list kept in its run's
// metadata (RunMeta::remote, apart from the run's data), linked through the
// block's first word only. Only the push that finds the list empty (the
// empty -> non-empty transition) notifies: it takes the run's `queued` flag
// 0 -> 1 with one exchange and, if it won, pushes the run onto its owner's
// run queue (per shard and class). Every other push costs no notify at all.
//
// The owner, on a refill under its shard's OwnerExcl, takes the run queue
// with one exchange, then one run's list per refill with one exchange, into
// its empty bin as it is (no block touched), clearing `queued` FIRST:
//   - a push that lands before the list exchange finds the list non-empty,
//     sends no notify, and its block is taken by that exchange;
//   - a push that lands after it finds the list empty, so it notifies; its
//     acquiring CAS read the owner's (releasing) exchange, so it sees
//     `queued` cleared, wins 0 -> 1 and queues the run again.
// So a non-empty list always belongs to a queued run (or to a push that is
// about to queue it): no wake-up is lost, and each block is taken by exactly
// one exchange. (Taking the list first and clearing after would lose the
// push that lands in between.)
//
// Runs the owner took from its queue but did not need yet stay in the shard
// (`held`), still queued, where refills, borrow, reclaim (and so trim, the
// decay, thread exit and the exhaustion sequence) reach them. A run is given
// back to the page heap only when every block it carved is free, so never
// while queued: runs on a queue and free spans are disjoint.
#pragma once
#include <atomic>

#include "arena/arena.h"
#include "cache/thread_cache.h"
#include "stats/stats.h"

namespace hz::run_remote {

// The count in a list head: a run carves fewer blocks than this.
inline constexpr unsigned kCountShift = 48;
static_assert([] {
  for (unsigned c = 1; c < kNumClasses; ++c)
    if (kClasses[c].capacity >= (1u << (64 - kCountShift))) return false;
  return true;
}(), "a run's block count must fit the list head's count field");

struct alignas(64) RunQueue {
  std::atomic<RunMeta*> head[kNumClasses];  // MPSC: notifiers push runs, the owner takes all
  alignas(64) RunMeta* held[kNumClasses]{};  // taken from head, lists not taken yet (OwnerExcl)
};
extern RunQueue g_runq[kRemoteLite ? kShards : 1];

// RunMeta::remote has members only in the lane: it is reached through these
// templates, instantiated only on the lane's side of an `if constexpr`.
template <class Run>
HZ_INLINE std::atomic_ref<uintptr_t> list_of(Run* r) { return std::atomic_ref<uintptr_t>(r->remote.list); }
template <class Run>
HZ_INLINE std::atomic_ref<uint8_t> queued_of(Run* r) { return std::atomic_ref<uint8_t>(r->remote.queued); }
template <class Run>
HZ_INLINE RunMeta*& next_of(Run* r) { return r->remote.next; }

HZ_INLINE FreeBlock* list_first(uintptr_t head) {
  return reinterpret_cast<FreeBlock*>(head & ((uintptr_t{1} << kCountShift) - 1));
}
HZ_INLINE uint32_t list_count(uintptr_t head) { return static_cast<uint32_t>(head >> kCountShift); }

HZ_NOINLINE void notify(RunMeta* r, unsigned cls, unsigned owner);

// A remote free of b (class cls, owned by owner). Returns false when the run
// is not a small run in use, so the block takes the owner-stash path.
HZ_INLINE bool push(FreeBlock* b, unsigned cls, unsigned owner) {
  if constexpr (!kRemoteLite) {
    return false;
  } else {
    size_t page = arena::page_of(b);
    RunMeta* r = arena::meta_of(run_first_page(page));
    if (HZ_UNLIKELY(r->state != kSpanInUse || r->cls != cls)) {
      stats::add(stats::kRlFallback, 1);
      return false;
    }
    std::atomic_ref<uintptr_t> list = list_of(r);
    uintptr_t old = list.load(std::memory_order_relaxed), head;
    do {
      b->set_next(list_first(old));  // the first word only: the second is not ours
      head = reinterpret_cast<uintptr_t>(b) | (uintptr_t{list_count(old) + 1} << kCountShift);
      // acq_rel: the acquire pairs with the owner's list exchange, so that
      // the notify below sees the `queued` it cleared before taking the list.
    } while (!list.compare_exchange_weak(old, head, std::memory_order_acq_rel, std::memory_order_relaxed));
    stats::add(stats::kRlPush, 1);
    if (old == 0) notify(r, cls, owner);
    return true;
  }
}

// Blocks waiting for shard in runs of cls (read without the lock: a hint).
HZ_INLINE bool pending(unsigned shard, unsigned cls) {
  if constexpr (!kRemoteLite) {
    return false;
  } else {
    RunQueue& q = g_runq[shard];
    return q.head[cls].load(std::memory_order_relaxed) || __atomic_load_n(&q.held[cls], __ATOMIC_RELAXED);
  }
}

// Under shard's OwnerExcl. Puts the remote list of the next queued run of
// cls that has one into bin (empty: a refill's) as it is, without touching a
// block; the other runs stay queued for the next refills. Returns false when
// none waited.
bool refill_runs(Bin& bin, unsigned shard, unsigned cls);
HZ_INLINE bool refill(Bin& bin, unsigned shard, unsigned cls) {
  if constexpr (!kRemoteLite) return false;
  return refill_runs(bin, shard, cls);
}

// Under shard's OwnerExcl: every block waiting in queued runs of cls, as one
// null-terminated list (for reclaim, which sorts it home).
FreeBlock* take_all_runs(unsigned shard, unsigned cls);
HZ_INLINE FreeBlock* take_all(unsigned shard, unsigned cls) {
  if constexpr (!kRemoteLite) return nullptr;
  return take_all_runs(shard, cls);
}

// True when r is on no run queue and its list is empty (debug checks).
HZ_INLINE bool idle(RunMeta* r) {
  if constexpr (!kRemoteLite) return true;
  else return queued_of(r).load(std::memory_order_relaxed) == 0 && list_of(r).load(std::memory_order_relaxed) == 0;
}

}  // namespace hz::run_remote
