// Reclaim's sort (budget.cpp, sort_chain; HZ_SORT_LANES): a chain of batches
// is walked several batches at a time. Every free block must land in its own
// run's list exactly once, each list must hold as many blocks as its run
// counts, and a batch whose header does not match its list is reported, not
// walked past. Runs through hz_* and internal headers (also under ASan/TSan).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <unordered_set>
#include <vector>

#include "arena/arena.h"
#include "budget/budget.h"
#include "cache/refill.h"
#include "cache/thread_cache.h"
#include "config.h"
#include "hakozuna.h"
#include "shard/shard.h"

namespace {

// 16 B has no batch headers (walked block by block); the others are walked
// in lanes.
constexpr size_t kSizes[] = {16, 48, 64, 256, 1024, 4096};
constexpr int kPerSize = 3000;

// The class of a block hz_malloc handed out (the hardened build adds a canary,
// so a size may land one class up).
unsigned class_of_block(const void* p) { return hz::tag_class(hz::tag_at(hz::arena_offset(p))); }

TEST(ReclaimSort, AThreadsExitSortsEveryFreeBlockIntoItsRunOnce) {
  std::vector<void*> freed, live;
  unsigned shard = 0;
  std::thread([&] {
    std::vector<void*> mine;
    for (size_t size : kSizes)
      for (int i = 0; i < kPerSize; ++i) {
        void* p = hz_malloc(size);
        ASSERT_NE(p, nullptr);
        memset(p, 0x5A, size);
        mine.push_back(p);
      }
    shard = hz::t_cache->real->shard;
    // Every other block freed, in a burst: bins overflow into central as
    // batches; the rest stays live, so each run is left partial.
    for (size_t i = 0; i < mine.size(); ++i) (i % 2 ? live : freed).push_back(mine[i]);
    for (void* p : freed) hz_free(p);
  }).join();  // the exit reclaim sorts the shard's lists into its runs

  std::unordered_set<uintptr_t> want;
  std::unordered_set<unsigned> classes;
  for (void* p : freed) want.insert(reinterpret_cast<uintptr_t>(p)), classes.insert(class_of_block(p));
  std::unordered_set<uintptr_t> seen;
  size_t found = 0;
  hz::shard::excl_lock(shard);  // the purger's decay may reclaim meanwhile
  for (unsigned cls : classes) {
    for (hz::RunMeta* r = hz::g_shards[shard].partial[cls]; r; r = r->next) {
      const uintptr_t lo = reinterpret_cast<uintptr_t>(hz::arena::page_addr(hz::arena::page_of(r)));
      const uintptr_t hi = lo + (uintptr_t{r->npages} << hz::kPageShift);
      uint32_t n = 0;
      hz::FreeBlock* tail = nullptr;
      for (hz::FreeBlock* b = r->free_list; b && n <= r->nfree; b = b->next(), ++n) {
        const uintptr_t a = reinterpret_cast<uintptr_t>(b);
        EXPECT_TRUE(a >= lo && a < hi) << "a block sorted into another run";
        EXPECT_TRUE(seen.insert(a).second) << "a block sorted twice";
        found += want.count(a);
        tail = b;
      }
      EXPECT_EQ(n, r->nfree) << "a run's list does not hold its count";
      EXPECT_EQ(tail, r->free_tail);
    }
  }
  hz::shard::excl_unlock(shard);
  EXPECT_EQ(found, freed.size()) << "freed blocks missing from their runs";
  for (void* p : live) EXPECT_EQ(seen.count(reinterpret_cast<uintptr_t>(p)), 0u) << "a live block on a free list";
  for (void* p : live) hz_free(p);
}

TEST(ReclaimSort, AThreadWhoseBlocksAreAllFreeLeavesNoRun) {
  // The hardened build's quarantines (blocks and spans, bounded in bytes)
  // keep freed memory in use past the thread's exit: in use rises over the
  // first rounds, then stays (1.18 MB after 4, 40 and 200 such threads), so
  // this test's bound does not apply there.
  if (hz::kHardened) GTEST_SKIP() << "hardened: the quarantines hold freed blocks in use (bounded)";
  // Warm up: the pool and the arena's first chunks.
  std::thread([] { hz_free(hz_malloc(64)); }).join();
  const size_t before = hz::arena::usage().in_use_bytes;
  for (int round = 0; round < 4; ++round) {
    std::thread([] {
      std::vector<void*> mine;
      for (size_t size : kSizes)
        for (int i = 0; i < kPerSize; ++i) mine.push_back(hz_malloc(size));
      std::reverse(mine.begin(), mine.end());
      for (void* p : mine) hz_free(p);
    }).join();
  }
  // Every run the threads carved is whole again and back in the page heap.
  EXPECT_LE(hz::arena::usage().in_use_bytes, before + (size_t{256} << 10));
}

// Counts the free blocks sorted into the shard's partial runs of cls.
size_t sorted_in(unsigned shard, unsigned cls) {
  size_t n = 0;
  for (hz::RunMeta* r = hz::g_shards[shard].partial[cls]; r; r = r->next) n += r->nfree;
  return n;
}

// HZ_RECLAIM_SLICE_BLOCKS: a sliced reclaim sorts about a slice and leaves
// the rest in the shard's drained list; slice after slice, every block
// lands in its run once, as a whole reclaim would have put it.
TEST(ReclaimSort, ASlicedReclaimSortsASliceAndLeavesTheRestForTheNext) {
  if (hz::kHardened) GTEST_SKIP() << "hardened: the quarantine holds freed blocks back";
  std::thread([] {
    constexpr size_t kSize = 256;
    constexpr int kBlocks = 20000;
    constexpr size_t kSlice = 1000;
    std::vector<void*> mine;
    for (int i = 0; i < kBlocks; ++i) mine.push_back(hz_malloc(kSize));
    const unsigned cls = class_of_block(mine[0]);
    const unsigned shard = hz::t_cache->real->shard;
    // Every other block freed: runs stay partial, their free blocks countable.
    std::vector<void*> live;
    for (size_t i = 0; i < mine.size(); ++i)
      if (i % 2) hz_free(mine[i]);
      else live.push_back(mine[i]);
    hz::thread_flush_all(hz::t_cache->real);  // the bin and spill too
    hz::budget::reclaim_shard(shard, true);   // a clean start: nothing sorted pending
    const size_t base = sorted_in(shard, cls);
    for (size_t i = 0; i < live.size(); i += 2) hz_free(live[i]);
    hz::thread_flush_all(hz::t_cache->real);
    const size_t freed = (live.size() + 1) / 2;
    bool cut = false;
    hz::budget::reclaim_shard(shard, true, 0, kSlice, &cut);
    EXPECT_TRUE(cut);
    hz::shard::excl_lock(shard);
    const size_t first = sorted_in(shard, cls) - base;
    const bool rest_kept = hz::g_shards[shard].drained[cls].load() != nullptr;
    hz::shard::excl_unlock(shard);
    EXPECT_GE(first, kSlice);
    EXPECT_LT(first, kSlice + 256) << "more than a slice and a batch sorted at once";
    EXPECT_TRUE(rest_kept) << "the rest of the cut chain is not in drained";
    int slices = 1;
    while (cut && slices < 1000) {
      cut = false;
      hz::budget::reclaim_shard(shard, true, 0, kSlice, &cut);
      ++slices;
    }
    EXPECT_FALSE(cut);
    EXPECT_GE(slices, static_cast<int>(freed / kSlice)) << "fewer slices than the blocks need";
    EXPECT_EQ(sorted_in(shard, cls) - base, freed) << "blocks lost or sorted twice across slices";
    for (size_t i = 1; i < live.size(); i += 2) hz_free(live[i]);
  }).join();
}

// wild: the header names a last block outside the heap; else it claims one
// block more than its batch links.
void corrupt_a_header_and_reclaim(bool wild) {
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) v.push_back(hz_malloc(64));
  const unsigned cls = class_of_block(v[0]);
  for (void* p : v) hz_free(p);  // the bin overflows: batches in central
  const unsigned shard = hz::t_cache->real->shard;
  hz::BlockLists& central = hz::g_shards[shard].central[cls];
  hz::FreeBlock* chain = central.drain();
  if (!chain) return;
  hz::FreeBlock* tail = hz::chain_tail(chain, cls);
  if (wild)
    hz::set_batch(chain, reinterpret_cast<hz::FreeBlock*>(uintptr_t{4096}), hz::batch_count(chain, cls), cls);
  else
    hz::set_batch(chain, hz::batch_last(chain, cls), hz::batch_count(chain, cls) + 1, cls);
  central.push(chain, tail);
  hz::budget::reclaim_shard(shard, true);
}

TEST(ReclaimSortDeathTest, ABatchHeaderThatLiesIsReported) {
  if (hz::kSortLanes <= 1) GTEST_SKIP() << "HZ_SORT_LANES=1 walks the blocks alone, without the headers";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(corrupt_a_header_and_reclaim(false), "heap corruption detected");
  EXPECT_DEATH(corrupt_a_header_and_reclaim(true), "heap corruption detected");
}

}  // namespace
