// The thread cache: per-thread bins (free list + count) per size class. The
// fast paths (api/alloc_path.h, api/free_path.h) touch only this; every
// rare case is one out-of-line call into thread_cache.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arena/arena.h"
#include "remote/remote_stash.h"
#include "remote/spill.h"
#include "budget/idle_state.h"
#include "size_class/size_class.h"

namespace hz {

// room counts down as blocks come in: the free path's limit check is one
// decrement and a sign test. count() = max - room. key, cls and magic are
// copies of the class's constants, here so that free() finds everything it
// reads at the slot its page tag gives, in the line it pushes to: no table
// address to form (the bin's address is the slot added to the TLS region
// pointer).
struct Bin {
  FreeBlock* head;
  int32_t room;  // max - count; a free that takes it below zero flushes to central
  uint16_t max;  // a class's bin_max: at most 8192 (size_class.h)
  uint16_t cls;
  uint64_t key;    // the class's free key (kTables.key, check/free_key.h)
  uint64_t magic;  // kDivMagic[cls]; 0 in every bin no block may be pushed to
  uint32_t count() const { return static_cast<uint32_t>(static_cast<int64_t>(max) - room); }
  void add(uint32_t n) { room -= static_cast<int32_t>(n); }
  void set_max(uint32_t m) {
    room += static_cast<int32_t>(m) - static_cast<int32_t>(max);
    max = static_cast<uint16_t>(m);
  }
};
static_assert(sizeof(Bin) == kBinBytes, "the page tags' slots assume this bin size");

// malloc's tables: size -> the bin (by size_index()), and class -> the bin
// (medium sizes). Pointers, one load from the TLS table pointer to the bin.
HZ_INLINE constexpr size_t size_index(size_t size) { return (size + kSizeTableStep - 1) / kSizeTableStep; }
struct BinTables {
  Bin* by_size[kLookupMax / kSizeTableStep + 1];
  Bin* by_class[kNumClasses];
};

// What free() reaches through t_bins: a thread's bins at by_owner[its shard],
// room for every other owner's, never written (zero: magic 0), and malloc's
// tables (reached through t_sizes). A free of another owner's block reads the
// magic at its own owner's slot, 0, and fails the divisibility test into the
// slow path: the owner compare costs no instruction. Only the header and the
// thread's own bins are ever written; the rest (kShards x 2 KiB of address
// space) stays untouched, or reads the kernel's zero page.
struct alignas(64) BinRegion {
  Bin none;  // slot 0: pages with no small run. Zero: magic 0, no head
  BinTables tables;
  alignas(64) Bin by_owner[kShards][kBinStride / kBinBytes];
};
static_assert(offsetof(BinRegion, by_owner) == kBinHeader, "the page tags' slots assume this header size");

struct ThreadCache {
  BinRegion* region;  // set by tc_alloc(), kept across reuse; nullptr in the empty cache
  Bin* bins;          // region->by_owner[shard]; nullptr in the empty cache and fronts
  unsigned shard;    // owner id of blocks this thread carves; kNoShard when empty
  uint8_t live;      // 0 for the shared empty cache of threads not yet set up
  uint8_t counting;  // a counting front: the fast paths see the empty region,
                     // so every malloc and free lands in a slow path, which
                     // counts it and works on *real
  uint8_t idle;      // idle return's flags (budget/idle_return.h), set by the
                     // purger: every slow path that finds one calls idle::on_flag()
  uint8_t zero_;     // 0: plain() reads live..zero_ as one word
  ThreadCache* real; // the cache that holds this thread's blocks (self, or
                     // behind a counting front)
  // The live list or the pool; near the top, in the one page a purged pooled
  // cache keeps (purge_pool): rewriting them after the purge faulted two pages
  // back per cache.
  ThreadCache* next_live;
  ThreadCache* prev_live;
  uint32_t pooled_ms;    // when it was pooled
  uint8_t pool_clean;    // pooled with its pages purged (HZ_POOL_PURGE): set up as a fresh cache
  RemoteStash remote;
  Spill spill;
  uint32_t flush_epoch;  // last budget::g_flush_epoch honoured
  size_t carved_bytes;   // carved from new runs by this thread (borrow's threshold)
  unsigned borrow_hint;  // the shard the last borrow took from
  int tid;               // front of a thread's cache: its kernel thread id (0: none)
  uint64_t n_alloc, n_free, n_remote;  // counting fronts only
  uint8_t busy;          // the owner is in a slow path that works on this cache (idle::Busy)
  IdleState idle_state;  // the purger's side of idle return, behind its lock
  // A set-up thread, neither counting nor being taken back: its slow paths
  // may work on its cache directly. One compare.
  bool plain() const {
    uint32_t m;
    __builtin_memcpy(&m, &live, sizeof m);
    return m == 1;
  }
};
static_assert(offsetof(ThreadCache, counting) == offsetof(ThreadCache, live) + 1 &&
              offsetof(ThreadCache, zero_) == offsetof(ThreadCache, live) + 3, "plain() reads the four flags as one word");

HZ_INLINE Bin* bin_at(char* region, uint32_t offset) { return reinterpret_cast<Bin*>(region + offset); }
HZ_INLINE unsigned class_of_bin(const ThreadCache* tc, const Bin* b) { return static_cast<unsigned>(b - tc->bins); }

// Every thread starts on the empty cache, whose fast-path view (below) has
// every size map to a bin with no block and every slot read magic 0, so the
// first malloc or free lands in a slow path that sets the thread up, with no
// "initialised?" test on the fast path.
extern ThreadCache g_empty_cache;
extern HZ_TLS ThreadCache* t_cache;
// The region free() uses: t_cache->region of a set-up thread, else the empty
// region (all zero: every free takes the slow path). And malloc's tables:
// the region's, else the empty tables (every size maps to the empty region's
// unused bin: every malloc takes the slow path).
extern BinRegion g_empty_region;
extern BinTables g_empty_tables;
extern HZ_TLS char* t_bins;
extern HZ_TLS BinTables* t_sizes;

// The most one thread's cache holds (bins, spill, remote stash, and the
// hardened build's quarantine), in pages: all that waiting for another
// thread's flush can bring back.
constexpr size_t thread_keep_max_bytes() {
  size_t b = kRemoteStashMaxBytes + (kHardened ? kQuarantineMaxBytes : 0);
  for (unsigned c = 1; c < kNumClasses; ++c) b += size_t{kClasses[c].bin_max} * kClasses[c].size + kSpillMaxBytes;
  return b;
}
inline constexpr size_t kThreadKeepMaxPages = (thread_keep_max_bytes() + kPageSize - 1) >> kPageShift;

// Slow paths.
// The bin of cls (of size index size_index(size), of medium index
// (size + 255) / 256) was empty, or this thread not set up.
HZ_NOINLINE void* alloc_refill(unsigned cls);
HZ_NOINLINE void* alloc_refill_size(size_t index);
HZ_NOINLINE void* alloc_refill_medium(size_t index);
// b is t_cache's bin, over its limit.
HZ_NOINLINE void flush_bin(Bin* b);
// b, a block start of a small run and not free (its key now set), is not
// owned by t_cache's shard, or t_cache is not set up: the cases
// free_remote() (cache/remote_free.h) does not handle inline.
HZ_NOINLINE void free_remote_slow(FreeBlock* b, unsigned cls, unsigned owner);

// Process and thread lifecycle.
bool ensure_process_init();
bool process_ready();
ThreadCache* thread_setup();  // nullptr when out of memory
void thread_teardown(ThreadCache* tc);
// Gives everything this thread caches back to central and owners.
void thread_flush_all(ThreadCache* tc);
void fold_thread_stats(ThreadCache* tc);
// Under the lock of the live list: pick(tc, arg) for each live cache, until
// max of them returned true; those are stored in out. Returns their number.
unsigned collect_live(ThreadCache** out, unsigned max, bool (*pick)(ThreadCache*, void*), void* arg);
void fork_prepare();
void fork_parent();
void fork_child();
// Registers fork_prepare/_parent/_child once, ahead of every other object's
// handlers (cache/fork_order.cpp).
void register_fork_handlers();
// The lock held around libc's registrations of fork handlers
// (cache/fork_order.cpp): fork_prepare takes it before the allocator's.
void register_lock();
void register_unlock();
void register_reset();
// Sums hot-path counters of live threads into out[3] (alloc, free, remote).
void live_thread_stats(uint64_t out[3]);
unsigned live_thread_count();
// Pool purge (HZ_POOL_PURGE): purges the pages of caches pooled at least
// delay_ms before now (from the purger's decay pass); pool_dirty() tells
// whether pooled caches still hold pages.
void purge_pool(uint32_t now, uint32_t delay_ms);
bool pool_dirty();

}  // namespace hz
