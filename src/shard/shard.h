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
  // Bytes of runs carved since the shard's last reclaim (written under excl,
  // read without it by the grow-reclaim test: kGrowReclaimBytes).
  size_t grown = 0;
  // S112: the remainder of the last full drain, a chain of batches (written
  // under excl; read without it only to see whether it is empty).
  std::atomic<FreeBlock*> drained[kNumClasses] = {};
  // Runs holding free blocks that reclaim sorted home, per class, doubly
  // linked through RunMeta::next/prev (under excl). Refills take a whole run's
  // list before carving; later reclaims sort only what arrived since, so
  // their cost follows new frees, not every free block.
  RunMeta* partial[kNumClasses] = {};
  std::atomic<uint32_t> threads{0};
  // Owner-side list traffic (drains and flushes). The decay pass reclaims a
  // shard only once it has been quiet for a whole tick, and then only when
  // something new arrived: sorting lists the owner is busy reusing, or the
  // same idle lists again, would be wasted work.
  std::atomic<uint32_t> events{0};
  uint32_t decay_seen = 0;       // events at the previous decay tick
  // Zero at start like everything here, so that the shards live in .bss: a
  // shard nobody used has nothing to reclaim.
  uint32_t decay_reclaimed = 0;  // events when the decay last reclaimed
  std::atomic<uint32_t> trim_seen{0};  // events when malloc_trim last reclaimed
  // Set by remote frees published to this shard (read-mostly: set only when
  // clear), cleared by the reclaim that will see them: malloc_trim skips
  // shards with nothing new.
  alignas(64) std::atomic<uint8_t> arrived{0};
};

extern Shard g_shards[kShards];

// ---- the partial-run list (under the shard's excl) ----
inline void partial_link(Shard& sh, unsigned cls, RunMeta* r) {
  r->prev = nullptr;
  r->next = sh.partial[cls];
  if (r->next) r->next->prev = r;
  __atomic_store_n(&sh.partial[cls], r, __ATOMIC_RELAXED);  // others peek without the lock
  r->partial = 1;
}
inline void partial_unlink(Shard& sh, unsigned cls, RunMeta* r) {
  if (r->prev) r->prev->next = r->next; else __atomic_store_n(&sh.partial[cls], r->next, __ATOMIC_RELAXED);
  if (r->next) r->next->prev = r->prev;
  r->partial = 0;
}
// Takes every sorted free block of the first partial run, as one batch.
inline FreeBlock* partial_take(Shard& sh, unsigned cls) {
  RunMeta* r = sh.partial[cls];
  if (!r) return nullptr;
  partial_unlink(sh, cls, r);
  FreeBlock* head = r->free_list;
  r->free_tail->set_next(nullptr);
  set_batch(head, r->free_tail, r->nfree, cls);
  r->free_list = r->free_tail = nullptr;
  r->nfree = 0;
  return head;
}

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
