// Refill: where a thread's empty bin gets blocks, in order: its spill, then
// its shard (the remainder of the last full drain, one full drain of the
// owner stash, the remote lists of queued runs in lane r90, one full drain
// of central, a run that reclaim sorted), then another shard's
// free lists (borrow, once the thread has grown), then new runs carved from
// the page heap; and the S45 exhaustion sequence when that fails. Also the
// bounded walks over free lists that the rest of the cache uses.
#include "cache/refill.h"

#include <errno.h>

#include "budget/budget.h"
#include "check/free_key.h"
#include "central/central.h"
#include "remote/run_remote.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz {

namespace {

// ---- bin <-> list helpers ----

// Debug builds: a batch handed between boxes holds blocks of its class only
// and as many as its header says.
void check_batch(FreeBlock* first, unsigned cls) {
  if constexpr (kDebugChecks) {
    uint32_t n = 0;
    FreeBlock* b = first;
    for (;; b = b->next()) {
      HZ_CHECK(arena_offset(b) < pagemap_size() && tag_class(tag_at(arena_offset(b))) == cls,
               "list corruption: a block of the wrong class or not ours");
      HZ_CHECK(!kFreeKey || b->key == free_key(b, cls), "list corruption: a free block without its free key");
      if (++n == batch_count(first, cls)) break;
    }
    HZ_CHECK(b == batch_last(first, cls), "list corruption: batch header does not match its list");
  }
  (void)first, (void)cls;
}

// Splices whole batches from the front of chain onto the bin until it holds
// at least want blocks; returns the rest of the chain. Touches two blocks per
// batch, whatever its length. The bin gets them in the chain's order: a chain
// drained from an owner stash is its remote frees in reverse, so a consumer's
// run of frees comes back as one sequential run of addresses, which the
// hardware prefetcher follows when the blocks are handed out and read again.
FreeBlock* take_batches(Bin& b, FreeBlock* chain, unsigned want, unsigned cls) {
  if (!chain) return nullptr;
  unsigned got = 0;
  FreeBlock* first = chain;
  FreeBlock* last = nullptr;
  while (chain && got < want) {
    check_batch(chain, cls);
    last = batch_last(chain, cls);
    uint32_t n = batch_count(chain, cls);
    if (!has_header(cls)) {  // batches of one: splice as many as wanted at once
      while (n < want - got && last->next()) {
        last = last->next();
        ++n;
      }
    }
    got += n;
    chain = last->next();
  }
  last->set_next(b.head);
  b.head = first;
  b.add(got);
  return chain;
}

}  // namespace

// No walk over a free list is unbounded: a program's double free can turn a
// list into a cycle, and a thread must then report it, not spin forever.

// A bin holds exactly count blocks, null-terminated.
FreeBlock* bin_tail(const Bin& b) {
  FreeBlock* t = b.head;
  for (uint32_t i = 1, n = b.count(); i < n; ++i) {
    t = t->next();
    if (HZ_UNLIKELY(!t)) heap_corruption("a free list is shorter than its count", b.head);
  }
  if (HZ_UNLIKELY(t->next())) heap_corruption("a free list is longer than its count: double free?", t);
  return t;
}

// The last block of a chain of batches, hopping batch to batch; Brent's cycle
// check keeps the walk finite whatever the program did to the blocks.
FreeBlock* chain_tail(FreeBlock* chain, unsigned cls) {
  FreeBlock* mark = chain;
  size_t power = 1, steps = 0;
  for (FreeBlock* b = chain;;) {
    FreeBlock* last = batch_last(b, cls);
    if (!last->next()) return last;
    b = last->next();
    if (HZ_UNLIKELY(b == mark)) heap_corruption("a cycle in a free list: double free?", b);
    if (++steps == power) {
      mark = b;
      power *= 2;
      steps = 0;
    }
  }
}

namespace {

// ---- S112: spill first, then one full drain ----

bool refill_from_spill(ThreadCache* tc, unsigned cls, unsigned want) {
  Spill& s = tc->spill;
  // Oldest batch first, linked in order: the spill continues the order of
  // the drained chain it came from (see take_batches).
  FreeBlock* head = nullptr;
  FreeBlock* tail = nullptr;
  unsigned got = 0;
  while (s.first[cls] < s.n[cls] && got < want) {
    FreeBlock* f = s.array[cls][s.first[cls]++];
    check_batch(f, cls);
    got += batch_count(f, cls);
    if (tail) tail->set_next(f); else head = f;
    tail = batch_last(f, cls);
  }
  if (s.first[cls] == s.n[cls]) s.first[cls] = s.n[cls] = 0;
  if (!head) return false;
  Bin& b = tc->bins[cls];
  tail->set_next(b.head);
  b.head = head;
  b.add(got);
  return true;
}

// Under OwnerExcl. A drained chain fills the request, then the spill array
// (whole batches, one per slot, bounded in blocks and bytes), then stays
// whole in the shard: never pushed back, never walked. (With S112 off, the
// rest goes back to the list it came from.)
void distribute(ThreadCache* tc, unsigned cls, FreeBlock* chain, BlockLists& source, Shard& sh) {
  chain = take_batches(tc->bins[cls], chain, kClasses[cls].batch, cls);
  if (!chain) return;
  if constexpr (!kFullDrain) {
    source.push(chain, chain_tail(chain, cls));
    return;
  }
  Spill& s = tc->spill;
  HZ_CHECK(s.n[cls] == 0 && sh.drained[cls].load(std::memory_order_relaxed) == nullptr,
           "S112: spill not empty at drain");
  const unsigned cap = kSpillCap < kSpillMaxBytes / kClasses[cls].size ? kSpillCap
                                                                          : static_cast<unsigned>(kSpillMaxBytes / kClasses[cls].size);
  for (unsigned held = 0; chain && s.n[cls] < kSpillCap && held + batch_count(chain, cls) <= cap;) {
    check_batch(chain, cls);
    held += batch_count(chain, cls);
    FreeBlock* last = batch_last(chain, cls);
    FreeBlock* rest = last->next();
    last->set_next(nullptr);
    s.array[cls][s.n[cls]++] = chain;
    chain = rest;
  }
  if (chain) {
    sh.drained[cls].store(chain, std::memory_order_relaxed);
    stats::add(stats::kDrainedSet, 1);
  }
}

// Under OwnerExcl: the remainder of the last drain, else one full drain of
// the owner stash, else of central, else a run that reclaim sorted. Returns
// false when all are empty.
bool take_shared(ThreadCache* tc, unsigned cls, Shard& sh) {
  BlockLists* source = &sh.central[cls];
  FreeBlock* chain = sh.drained[cls].load(std::memory_order_relaxed);
  if (chain) {
    sh.drained[cls].store(nullptr, std::memory_order_relaxed);
  } else if ((chain = sh.stash[cls].drain())) {
    source = &sh.stash[cls];
    stats::add(stats::kStashExchange, 1);
  } else if (run_remote::refill(tc->bins[cls], tc->shard, cls)) {
    sh.events.fetch_add(1, std::memory_order_relaxed);  // a queued run's remote list, straight into the bin
    return true;
  } else if ((chain = sh.central[cls].drain())) {
    stats::add(stats::kCentralDrain, 1);
  } else if ((chain = partial_take(sh, cls))) {
    stats::add(stats::kPartialTake, 1);
  } else {
    return false;
  }
  sh.events.fetch_add(1, std::memory_order_relaxed);
  distribute(tc, cls, chain, *source, sh);
  return true;
}

bool has_shared(const Shard& sh, unsigned cls) {
  return sh.drained[cls].load(std::memory_order_relaxed) || sh.stash[cls].pending() || sh.central[cls].pending() ||
         __atomic_load_n(&sh.partial[cls], __ATOMIC_RELAXED) ||
         run_remote::pending(static_cast<unsigned>(&sh - g_shards), cls);
}

// Takes from the shard's lists under its OwnerExcl.
bool refill_shared(ThreadCache* tc, unsigned cls) {
  Shard& sh = g_shards[tc->shard];
  if constexpr (kOwnerExcl) shard::excl_lock(tc->shard);
  bool got = take_shared(tc, cls, sh);
  if constexpr (kOwnerExcl) shard::excl_unlock(tc->shard);
  return got;
}

// Before growing, one batch of free blocks that another shard holds (its
// drained remainder, stash or sorted runs). The blocks keep their owner, so
// they go home when freed. Without it, when one thread frees for many owners,
// free blocks pile up in the shards of owners that are not allocating just
// then while the others carve fresh runs, and the heap never shrinks back.
bool borrow(ThreadCache* tc, unsigned cls) {
  // Start where the last borrow succeeded: each shard looked at costs cache
  // misses on lines other threads write.
  const unsigned start = tc->borrow_hint;
  for (unsigned i = 0; i < kShards; ++i) {
    unsigned s = (start + i) % kShards;
    if (s == tc->shard) continue;
    Shard& o = g_shards[s];
    if (!has_shared(o, cls) || !o.excl.try_lock()) continue;
    FreeBlock* chain = o.drained[cls].exchange(nullptr, std::memory_order_relaxed);
    if (!chain && (chain = o.stash[cls].drain())) o.events.fetch_add(1, std::memory_order_relaxed);
    if (!chain) chain = o.central[cls].drain();
    bool lent = !chain && run_remote::refill(tc->bins[cls], s, cls);
    if (!chain && !lent) chain = partial_take(o, cls);
    o.excl.unlock();
    if (!chain && !lent) continue;
    tc->borrow_hint = s;
    stats::add(stats::kBorrow, 1);
    if (lent) return true;  // a queued run's remote list went straight into the bin (lane r90)
    Shard& sh = g_shards[tc->shard];
    if constexpr (kOwnerExcl) shard::excl_lock(tc->shard);
    if (sh.drained[cls].load(std::memory_order_relaxed)) {
      sh.central[cls].push(chain, chain_tail(chain, cls));  // a shard-mate got there first
      take_shared(tc, cls, sh);
    } else {
      distribute(tc, cls, chain, sh.central[cls], sh);
    }
    if constexpr (kOwnerExcl) shard::excl_unlock(tc->shard);
    return true;
  }
  return false;
}

}  // namespace

// Slow start: doubles a bin's limit towards its class's bin_max. Returns
// true while it is still growing.
bool slow_start_grow(Bin& b, unsigned cls) {
  if (HZ_LIKELY(b.max >= kClasses[cls].bin_max)) return false;
  b.set_max(2 * b.max < kClasses[cls].bin_max ? 2 * b.max : kClasses[cls].bin_max);
  return true;
}

// Grow reclaim's threshold (config.h): kGrowReclaimBytes, or an eighth of
// a small heap's mapped peak, at least kGrowReclaimMinBytes.
size_t grow_reclaim_bytes() {
  if constexpr (kGrowReclaimMinBytes == 0) return kGrowReclaimBytes;
  const size_t eighth = (arena::mapped_peak_pages() << kPageShift) / 8;
  return eighth >= kGrowReclaimBytes ? kGrowReclaimBytes : eighth <= kGrowReclaimMinBytes ? kGrowReclaimMinBytes : eighth;
}

void refill(ThreadCache* tc, unsigned cls) {
  stats::add(stats::kRefill, 1);
  unsigned want = kClasses[cls].batch;
  Bin& bin = tc->bins[cls];
  if (slow_start_grow(bin, cls)) {
    if (bin.max / 4 < want) want = bin.max / 4 ? bin.max / 4 : 1;
    if constexpr (kSlowStartBytes != 0) {
      const unsigned by_bytes = kSlowStartBytes / kClasses[cls].size;
      if (want > by_bytes) want = by_bytes ? by_bytes : 1;
    }
  }
  if (HZ_UNLIKELY(tc->flush_epoch != budget::g_flush_epoch.load(std::memory_order_relaxed))) {
    tc->flush_epoch = budget::g_flush_epoch.load(std::memory_order_relaxed);
    thread_flush_all(tc);  // another thread ran out of arena
  }
  if (refill_from_spill(tc, cls, want)) return;
  Shard& sh = g_shards[tc->shard];
  if (has_shared(sh, cls) && refill_shared(tc, cls)) return;
  // About to grow: first hand our pending remote frees to their owners, so
  // that the other threads need not grow either. (Flushing at every refill
  // instead halves the average remote list length.)
  if (tc->remote.pending) remote_stash_flush(tc->remote);
  // Only a thread that has already grown a lot borrows: short-lived and
  // balanced threads keep to their own blocks (else every free of a borrowed
  // block is a remote free: larson runs at half speed).
  if constexpr (kBorrowBeforeGrow) {
    if (tc->carved_bytes >= kBorrowAfterBytes && borrow(tc, cls)) return;
  }
  // Grow reclaim: runs emptied in this shard's other classes go back to the
  // page heap before fresh pages are carved (a reclaim that finds this
  // class's blocks leaves them in a sorted run, taken right after).
  if constexpr (kGrowReclaimBytes != 0) {
    if (__atomic_load_n(&sh.grown, __ATOMIC_RELAXED) >= grow_reclaim_bytes() &&
        budget::reclaim_shard(tc->shard, false, 0, budget::kSlice) != budget::kBusy) {
      stats::add(stats::kGrowReclaim, 1);
      if (has_shared(sh, cls) && refill_shared(tc, cls)) return;
    }
  }
  unsigned got;
  FreeBlock* last;
  FreeBlock* head = central::carve(tc->shard, cls, want, &got, &last);
  if (HZ_UNLIKELY(!head)) {
    // Arena exhausted (S45): flush and reclaim everywhere, then carve again;
    // failing that, borrow free blocks of this class from another shard.
    for (bool patient : {false, true}) {
      if (budget::on_exhaustion(kClasses[cls].run_pages, patient)) {
        if (refill_shared(tc, cls)) return;
        head = central::carve(tc->shard, cls, want, &got, &last);
        if (head) break;
      }
      if (FreeBlock* list = budget::steal(cls, tc->shard)) {
        // Lent blocks keep their owner: a reclaim here sends them home.
        sh.central[cls].push(list, chain_tail(list, cls));
        if (refill_shared(tc, cls)) return;
      }
    }
  }
  if (head) {
    tc->carved_bytes += size_t{got} * kClasses[cls].size;
    Bin& b = tc->bins[cls];
    last->set_next(b.head);
    b.head = head;
    b.add(got);
  }
}

// A block of cls from tc's bin, refilling it first if empty.
void* pop_or_refill(ThreadCache* tc, unsigned cls) {
  Bin& b = tc->bins[cls];
  if (!b.head) refill(tc, cls);
  FreeBlock* blk = b.head;
  if (HZ_UNLIKELY(!blk)) {
    stats::add(stats::kAllocFailed, 1);
    errno = ENOMEM;
    return nullptr;
  }
  b.head = blk->next();
  b.room++;
  if (HZ_UNLIKELY(!take_in_use(blk, kTables.key[cls]))) heap_corruption(kNotAFreeBlock, blk);
  return blk;
}

}  // namespace hz
