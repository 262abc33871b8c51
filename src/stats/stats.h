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

namespace hz {
struct ThreadCache;
struct FreeBlock;
}  // namespace hz

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
  kRemoteKeep,       // remote frees kept in the freeing thread's bin (HZ_REMOTE_KEEP)
  kIdleTaken,        // caches of idle threads taken back (HZ_IDLE_RETURN)
  kIdleRefused,      // ... attempts left: the thread was running or inside the allocator
  kGrowReclaim,      // reclaims of a shard that grew kGrowReclaimBytes since its last one (HZ_GROW_RECLAIM_BYTES)
  kArenaHoles,       // free spans unmapped when the arena could not grow (HZ_ARENA_HOLES)
  kArenaHoleRefills, // ... mapped back as free spans
  kKeepSpare,        // freed spans over the large-keep bound kept as the spare (HZ_LARGE_KEEP_SPARE)
  kKeepSpareDropped, // ... purged unused: a span placed elsewhere, a run carved in it, or a purger tick
  kExhaustionWait,   // sleeps of the exhaustion sequence for other threads' flushes
  kReallocRoom,      // large blocks realloc moved with room to grow in place (HZ_REALLOC_ROOM_PCT)
  kReallocShrink,    // large blocks realloc shrank in place, giving their tail back
  kReclaimCut,       // reclaims cut short at a slice, the rest left in drained (HZ_RECLAIM_SLICE_BLOCKS)
  kPoolPurged,       // pooled thread caches whose pages were purged (HZ_POOL_PURGE)
  kPeakEvict,        // kept spans purged so as not to raise a small heap's peak (HZ_KEEP_UNDER_PEAK)
  // Page-level remote lane (HZ_REMOTE_LITE only; not printed otherwise).
  kRlPush,           // remote frees pushed onto their run's list
  kRlNotify,         // ... that found it empty: the empty -> non-empty transitions
  kRlPageqDrain,     // run queues taken by the owner (one atomic_exchange each)
  kRlRunsDrained,    // run lists taken by the owner (one atomic_exchange each)
  kRlFallback,       // remote frees into a run not in use: the owner-stash path instead
  kNumCounters
};

inline constexpr const char* kCounterNames[kNumCounters] = {
    "alloc", "free", "remote_free", "large_alloc", "large_free", "refill", "central_push", "run_new",
    "run_release", "stash_push", "stash_exchange", "central_drain", "partial_take", "borrow", "drained_set", "remote_flush",
    "remote_flush_blocks", "owner_excl_wait", "thread_init", "thread_exit", "arena_grow",
    "purged_bytes", "emergency_flush", "reclaim_runs", "reclaim_pages", "reclaim_segments", "steal", "alloc_failed",
    "remote_keep", "idle_taken", "idle_refused", "grow_reclaim", "arena_holes", "arena_hole_refills",
    "keep_spare", "keep_spare_dropped", "exhaustion_wait", "realloc_room", "realloc_shrink", "reclaim_cut", "pool_purged",
    "peak_evict", "rl_push", "rl_notify", "rl_pageq_drain", "rl_runs_drained", "rl_fallback"};

extern std::atomic<uint64_t> g_counters[kNumCounters];
extern bool g_counting;  // set once, at the first allocation

inline bool counting() { return kStats || g_counting; }
inline void add(Counter c, uint64_t n) {
  if (HZ_UNLIKELY(counting())) g_counters[c].fetch_add(n, std::memory_order_relaxed);
}

// Reads HAKOZUNA_STATS (and HAKOZUNA_PROFILE, and whether memcheck runs us:
// each puts threads behind counting fronts) once at start-up.
void init_from_env();
// Prints the one-line report to stderr (always; the exit hook checks the env).
void print_report();
// Called at process exit.
void at_exit();

// The counting front's slow path (front.cpp): every malloc and free of a
// thread behind a counting front, and every page span, when counting is on.
void* front_alloc(ThreadCache* front, unsigned cls);
void front_free(ThreadCache* front, FreeBlock* b, unsigned cls, unsigned owner);  // before b is linked
void front_exit();  // the thread's cache is torn down
void span_alloc(void* p, size_t bytes, bool zeroed);
void span_free(void* p, size_t bytes);  // before the span goes back to the page heap

}  // namespace hz::stats
