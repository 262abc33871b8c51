// Shards: the owners of runs. A thread takes a shard at first use and gives it
// back at exit; with more threads than shards, threads share one (a
// collision), and the shard's single-consumer lists are then drained under
// its OwnerExcl lock.
#pragma once
#include <atomic>

#include "remote/mpsc_list.h"
#include "size_class/size_class.h"

namespace hz {

inline constexpr unsigned kNoShard = 0xFFFF;  // never equals an 8-bit tag owner

struct alignas(64) Shard {
  // Remote frees addressed to this shard, per class (S112 owner stash).
  BlockLists stash[kNumClasses];
  // Blocks flushed by this shard's own threads, per class (S142 central).
  BlockLists central[kNumClasses];
  // Run carving and reclaim touch run metadata: owner-exclusive.
  SpinLock excl;
  RunMeta* carve[kNumClasses] = {};  // run being carved, per class (under excl)
  // S112: the remainder of the last full drain, a chain of batches (written
  // under excl; read without it only to see whether it is empty).
  std::atomic<FreeBlock*> drained[kNumClasses] = {};
  std::atomic<uint32_t> threads{0};
  // Owner-side list traffic (drains and flushes). The decay pass reclaims a
  // shard only once it has been quiet for a whole tick, and then only when
  // something new arrived: sorting lists the owner is busy reusing, or the
  // same idle lists again, would be wasted work.
  std::atomic<uint32_t> events{0};
  uint32_t decay_seen = 0;       // events at the previous decay tick
  uint32_t decay_reclaimed = ~0u;  // events when the decay last reclaimed
};

extern Shard g_shards[kShards];

namespace shard {
unsigned acquire();          // picks the least-loaded shard for a new thread
// Returns how many threads still use the shard.
unsigned release(unsigned id);
// OwnerExcl: serialises consumers of a shard's lists and its run metadata.
void excl_lock(unsigned id);
void excl_unlock(unsigned id);
// Fork support.
void lock_all();
void unlock_all();
void reset_in_child(unsigned my_shard);
}  // namespace shard

}  // namespace hz
