// Event counters, one line at exit. Counting is off unless HAKOZUNA_STATS=1
// is set in the environment (or the build has HZ_STATS=1, CMake
// -DHAKOZUNA_STATS=ON). Off, the fast paths carry no counter at all and each
// slow-path event costs one predictable branch; on, every thread gets a
// counting front cache (see cache/thread_cache.h) that sends each malloc and
// free through a slow path that counts it.
#pragma once
#include <atomic>
#include <cstdint>

#include "common/base.h"

namespace hz::stats {

// Slow-path events, counted in shared atomics. Per-call events (alloc, free,
// remote free) are counted per thread in its counting front and folded in at
// exit.
enum Counter : unsigned {
  kAlloc,            // malloc-family calls served (folded from threads)
  kFree,             // free calls (folded)
  kRemoteFree,       // frees of blocks owned by another shard (folded)
  kLargeAlloc,       // page spans handed out directly
  kLargeFree,
  kRefill,           // thread-cache bin refills
  kFlush,            // bin overflow flushes: central pushes
  kRunNew,           // small runs carved from the page heap
  kRunRelease,       // empty small runs given back to the page heap
  kStashPush,        // lists pushed to an owner stash
  kStashExchange,    // owner stash drains (one atomic_exchange each)
  kCentralDrain,     // central list drains (one atomic_exchange each)
  kPartialTake,      // refills from a run that reclaim sorted (partial list)
  kBorrow,           // refills that borrowed a batch from another shard instead of growing
  kDrainedSet,       // drain remainders kept whole in the shard (Shard::drained)
  kRemoteFlush,      // remote-stash groups flushed
  kRemoteFlushBlocks,// blocks in those groups
  kOwnerExclWait,    // OwnerExcl acquisitions that had to wait
  kThreadInit,
  kThreadExit,
  kArenaGrowChunks,
  kPurgedBytes,
  kEmergencyFlush,   // arena exhausted: the S45 sequence started
  kReclaimRuns,      // runs sorted back and released by reclaim
  kReclaimPages,
  kReclaimSegments,  // frees that left a wholly free 2 MiB segment's worth of pages
  kSteal,            // exhaustion: blocks taken from another shard's lists
  kAllocFailed,      // requests that got ENOMEM after the whole sequence
  kNumCounters
};

inline constexpr const char* kCounterNames[kNumCounters] = {
    "alloc", "free", "remote_free", "large_alloc", "large_free", "refill", "central_push", "run_new",
    "run_release", "stash_push", "stash_exchange", "central_drain", "partial_take", "borrow", "drained_set", "remote_flush",
    "remote_flush_blocks", "owner_excl_wait", "thread_init", "thread_exit", "arena_grow",
    "purged_bytes", "emergency_flush", "reclaim_runs", "reclaim_pages", "reclaim_segments", "steal", "alloc_failed"};

extern std::atomic<uint64_t> g_counters[kNumCounters];
extern bool g_counting;  // set once, at the first allocation

inline bool counting() { return kStats || g_counting; }
inline void add(Counter c, uint64_t n) {
  if (HZ_UNLIKELY(counting())) g_counters[c].fetch_add(n, std::memory_order_relaxed);
}

// Reads HAKOZUNA_STATS once at start-up.
void init_from_env();
// Prints the one-line report to stderr (always; the exit hook checks the env).
void print_report();
// Called at process exit.
void at_exit();

}  // namespace hz::stats
