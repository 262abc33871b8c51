// A free of a block owned by another shard, on the freeing thread: kept in
// its bin (hand-offs, HZ_REMOTE_KEEP) or added to its remote stash. Inline in
// the one place that finds such a block (free_span_or_invalid), so that the
// common case is one function with no call and no register saved: a
// consumer thread that frees what others allocate runs it for every free.
// Everything else (a thread's first free, a counting front, the purger not
// yet started, lane r90) is one call to free_remote_slow().
#pragma once
#include "budget/budget.h"
#include "cache/thread_cache.h"
#include "remote/remote_stash.h"

namespace hz {

// Hand-offs (HZ_REMOTE_KEEP): another owner's block freed here stays in this
// thread's bin while the bin has room, for this thread to reuse. Only blocks
// that are whole cache lines: reusing a smaller one puts this thread's writes
// on a line it shares with blocks of other threads (passive false sharing,
// bench cache_scratch). Not counted here: a counting thread takes the slow
// path, which counts.
HZ_INLINE bool keep_remote(ThreadCache* tc, FreeBlock* b, unsigned cls) {
  if constexpr (!kRemoteKeep) return false;
  Bin& bin = tc->bins[cls];
  if (bin.room <= 0 || kClasses[cls].size % kCacheLine != 0) return false;
  b->set_next(bin.head);
  bin.head = b;
  bin.room--;
  return true;
}

// b (of class cls, marked free) is owned by owner, not this thread's shard,
// or this thread is not set up.
HZ_INLINE void free_remote(FreeBlock* b, unsigned cls, unsigned owner) {
  ThreadCache* tc = t_cache;
  // A set-up thread, not counting, not being taken back, the purger running (the order in
  // free_remote_slow matters only until it runs).
  if (HZ_LIKELY(!kRemoteLite && tc->plain() && owner != tc->shard &&
                budget::g_purger_started.load(std::memory_order_relaxed))) {
    if (keep_remote(tc, b, cls)) return;
    return remote_stash_add(tc->remote, b, cls, owner);
  }
  free_remote_slow(b, cls, owner);
}

}  // namespace hz
