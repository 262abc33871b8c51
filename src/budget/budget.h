// Memory budget (S45): no ENOMEM while memory sits idle in the allocator, and
// RSS that follows the program. Three ways memory comes back:
//   reclaim   - a shard's central and stash lists are sorted back into their
//               runs; runs whose every carved block is free go to the page heap
//   decay     - free spans dirty for longer than the purge delay are madvised
//               away (from slow paths, and from a background thread once the
//               process has several threads)
//   exhaustion- when the arena cannot supply pages: flush this thread, ask the
//               others to flush, reclaim every shard, retry
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arena/arena.h"

namespace hz::budget {

void init_from_env();
uint32_t purge_delay_ms();

// Returns the number of runs given back to the page heap, or kBusy when
// !wait and the shard's OwnerExcl was taken. idle_ms: how long the blocks
// have been idle already (idle return), counted into the runs' decay.
// slice: at most this many blocks sorted (kReclaimSliceBlocks for callers
// inside a malloc or a decay pass); *cut set when blocks were left for later.
inline constexpr size_t kBusy = ~size_t{0};
inline constexpr size_t kNoSlice = ~size_t{0};
inline constexpr size_t kSlice = kReclaimSliceBlocks ? kReclaimSliceBlocks : kNoSlice;
size_t reclaim_shard(unsigned shard, bool wait, uint32_t idle_ms = 0, size_t slice = kNoSlice, bool* cut = nullptr);
size_t reclaim_all(bool wait);

// The arena could not supply pages: flush this thread, ask the others to
// flush, reclaim every shard. Patient calls then wait a little (bounded) for
// the others and reclaim again. Returns true when a retry may succeed.
bool on_exhaustion(size_t pages_needed, bool patient);

// Last resort for a small class: free blocks of cls waiting in another
// shard's lists. They keep their owner, so their frees go home as remote frees.
FreeBlock* steal(unsigned cls, unsigned my_shard);

// Other threads flush their caches at their next slow path when this moves.
extern std::atomic<uint32_t> g_flush_epoch;

// Called from slow paths that leave memory idle (flushes, large frees,
// thread exit): runs a decay pass when one is due, and starts the background
// purger in multi-threaded processes; kept_large (large spans kept dirty past
// kLargeKeepPurgerBytes, arena/keep.h): in any process, since only the decay
// returns them once the program idles.
void note_idle_memory(bool kept_large = false);

// Remote frees were handed to their owners: wakes the background purger, so
// that it sees them even if no thread calls the allocator again. Safe in the
// middle of any slow path (a futex wake, nothing that allocates).
void note_remote_frees();
// The last thread cache was released: the purger looks at once whether the
// process is ending (a main gone by pthread_exit), instead of at its next tick.
// Wakes the tick's sleep only; release_cache's note_idle_memory wakes an idle one.
void note_last_cache_gone();
// Starts the background purger if the process has several threads. It
// allocates (pthread_create): call only where the calling thread's cache is
// consistent (the end of a free, never inside a refill). One load once it runs.
extern std::atomic<bool> g_purger_started HZ_HIDDEN;
void start_background();
inline void ensure_background() {
  if (!g_purger_started.load(std::memory_order_relaxed)) start_background();
}

// malloc_trim(0) / hz_trim(): everything that can go back now. Returns bytes
// purged.
size_t trim();

// In a child forked with the fork locks: no purger, kept pages purged.
void fork_child();
// In one forked without them (a single-threaded program, or the solo gate's
// holder): no purger; nothing that takes a lock.
void fork_child_unlocked();

}  // namespace hz::budget
