// The thread cache: per-thread bins (free list + count) per size class. The
// fast paths (api/alloc_path.h, api/free_path.h) touch only this; every
// rare case is one out-of-line call into thread_cache.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arena/arena.h"
#include "remote/remote_stash.h"
#include "remote/spill.h"
#include "size_class/size_class.h"

namespace hz {

// room counts down as blocks come in: the free path's limit check is one
// decrement and a sign test. count() = max - room. key, shard and magic are
// copies (of the class's constants and of the cache's shard), here so that
// free() finds everything it reads at the slot its page tag gives, in the line
// it pushes to: it needs no table address and no ThreadCache pointer of its
// own (the bin's address is one add of the slot to the TLS cache pointer).
struct Bin {
  FreeBlock* head;
  int32_t room;  // max - count; a free that takes it below zero flushes to central
  uint32_t max;
  int32_t key;     // the class's part of the free key (kTables.key, check/free_key.h)
  uint32_t shard;  // ThreadCache::shard
  uint64_t magic;  // kDivMagic[cls]; 0 in bins[0], the slot of every tag that is not a small run's
  uint32_t count() const { return static_cast<uint32_t>(static_cast<int64_t>(max) - room); }
  void add(uint32_t n) { room -= static_cast<int32_t>(n); }
  void set_max(uint32_t m) {
    room += static_cast<int32_t>(m) - static_cast<int32_t>(max);
    max = m;
  }
};

struct ThreadCache {
  Bin bins[kNumClasses];  // first: a bin's slot (its offset) fits a tag's 16 bits
  // malloc's size -> bin table, (size + 15) / 16 -> &bins[class]: one load
  // where the class table needed a load, a shift and an add.
  Bin* direct[kLookupMax / 16 + 1];
  unsigned shard;    // owner id of blocks this thread carves; kNoShard when empty
                     // (set_shard(): every bin has a copy)
  uint8_t live;      // 0 for the shared empty cache of threads not yet set up
  uint8_t counting;  // a counting front: its bins stay empty and its shard is
                     // kNoShard, so every malloc and free lands in a slow
                     // path, which counts it and works on *real
  ThreadCache* real; // the cache that holds this thread's blocks (self, or
                     // behind a counting front)
  RemoteStash remote;
  Spill spill;
  uint32_t flush_epoch;  // last budget::g_flush_epoch honoured
  size_t carved_bytes;   // carved from new runs by this thread (borrow's threshold)
  unsigned borrow_hint;  // the shard the last borrow took from
  int tid;               // front of a thread's cache: its kernel thread id (0: none)
  uint64_t n_alloc, n_free, n_remote;  // counting fronts only
  ThreadCache* next_live;
  ThreadCache* prev_live;
};

static_assert(offsetof(ThreadCache, bins) == 0, "bin slots are offsets from the cache itself");

// The offset of a class's bin in every ThreadCache: a small run's page tag
// carries it (PageTag::slot).
HZ_INLINE constexpr unsigned bin_slot(unsigned cls) { return cls * static_cast<unsigned>(sizeof(Bin)); }
static_assert(bin_slot(kNumClasses) <= 0xFFFF, "bin slots must fit PageTag::slot");
HZ_INLINE Bin* bin_at(ThreadCache* tc, unsigned slot) {
  return reinterpret_cast<Bin*>(reinterpret_cast<char*>(tc) + slot);
}
HZ_INLINE unsigned class_of_bin(const ThreadCache* tc, const Bin* b) { return static_cast<unsigned>(b - tc->bins); }
// A cache's per-class constants and its direct table (every cache, fronts and
// the empty one included: free() reads them before it looks at the owner).
void init_bins(ThreadCache* tc);
HZ_INLINE void set_shard(ThreadCache* tc, unsigned shard) {
  tc->shard = shard;
  for (Bin& b : tc->bins) b.shard = shard;
}

// Every thread starts on the empty cache: its bins are empty and its shard
// matches no block, so the first malloc or free lands in a slow path that
// sets the thread up, with no "initialised?" test on the fast path.
extern ThreadCache g_empty_cache;
extern HZ_TLS ThreadCache* t_cache;

// Slow paths.
// b is t_cache's bin, found empty.
HZ_NOINLINE void* alloc_refill(Bin* b);
// b is t_cache's bin, over its limit.
HZ_NOINLINE void flush_bin(Bin* b);
// b is not owned by t_cache's shard (or t_cache is not set up).
HZ_NOINLINE void free_remote(FreeBlock* b);

// Process and thread lifecycle.
bool ensure_process_init();
bool process_ready();
ThreadCache* thread_setup();  // nullptr when out of memory
void thread_teardown(ThreadCache* tc);
// Gives everything this thread caches back to central and owners.
void thread_flush_all(ThreadCache* tc);
void fold_thread_stats(ThreadCache* tc);
void fork_prepare();
void fork_parent();
void fork_child();
// Sums hot-path counters of live threads into out[3] (alloc, free, remote).
void live_thread_stats(uint64_t out[3]);
unsigned live_thread_count();

}  // namespace hz
