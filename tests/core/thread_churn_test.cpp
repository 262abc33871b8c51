// Thread churn (docs/boxes.md, "Thread churn"): a thread cache recycled from
// the pool starts as empty as a fresh one, loses no block and maps every size
// to its own bin (kept tables, HZ_TC_KEEP_TABLES); caches of
// threads gone without teardown are still swept when the sweep's interval has
// grown long (HZ_SWEEP_GAP_MAX).
#include <gtest/gtest.h>
#include <pthread.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cache/thread_cache.h"
#include "config.h"
#include "stats/stats.h"
#include "hakozuna.h"

namespace {

struct Block {
  unsigned char* p;
  size_t size;
  unsigned char tag;
};

Block make(size_t size, unsigned char tag) {
  auto* p = static_cast<unsigned char*>(hz_malloc(size));
  EXPECT_NE(p, nullptr);
  memset(p, tag, size);
  return {p, size, tag};
}

bool intact(const Block& b) {
  for (size_t i = 0; i < b.size; ++i)
    if (b.p[i] != b.tag) return false;
  return true;
}

constexpr size_t kSizes[] = {16, 48, 64, 200, 1000, 3000, 20000};

// Leaves a cache holding blocks everywhere teardown must empty: bins, spill
// (a refill's full drain of what the thread flushed) and remote stash groups
// (frees of blocks another shard owns).
void churn(std::vector<Block>& foreign, size_t from, size_t to, unsigned char tag) {
  for (size_t size : kSizes) {
    std::vector<Block> mine;
    for (int i = 0; i < 600; ++i) mine.push_back(make(size, tag));
    for (Block& b : mine) hz_free(b.p);  // overflows the bin: flushes to central
    mine.clear();
    // Empty the bin, then one refill: a full drain of central, the rest spilled.
    for (uint32_t n = hz::t_cache->real->bins[hz::class_of(size)].count() + 1; n > 0; --n) mine.push_back(make(size, tag));
    for (Block& b : mine) {
      ASSERT_TRUE(intact(b));
      hz_free(b.p);
    }
  }
  for (size_t i = from; i < to; ++i) {
    ASSERT_TRUE(intact(foreign[i])) << "a block of another thread was overwritten";
    hz_free(foreign[i].p);
  }
}

TEST(ThreadLife, ARecycledCacheStartsEmptyAndLosesNothing) {
  // Blocks owned by this thread's shard, freed by the workers (remote frees).
  std::vector<Block> foreign;
  for (int i = 0; i < 2000; ++i) foreign.push_back(make(kSizes[i % 7], static_cast<unsigned char>(i)));
  const unsigned live_before = hz::live_thread_count();

  hz::ThreadCache* first = nullptr;
  std::thread([&] {
    churn(foreign, 0, 1000, 0xA1);
    first = hz::t_cache;
    // The case under test: teardown finds blocks in the stash and the spill.
    unsigned spilled = 0;
    for (unsigned c = 1; c < hz::kNumClasses; ++c) spilled += first->real->spill.n[c];
    if (!hz::kRemoteLite) EXPECT_GT(first->real->remote.pending, 0u);  // lane r90: run lists instead
    EXPECT_GT(spilled, 0u);
  }).join();
  std::thread([&] {
    void* p = hz_malloc(32);  // sets the thread up
    // A copy first: a failed EXPECT allocates, and would change what it reads.
    hz::ThreadCache* tc = hz::t_cache;
    alignas(hz::ThreadCache) unsigned char copy[sizeof(hz::ThreadCache)];
    memcpy(copy, static_cast<const void*>(tc->real), sizeof copy);
    const hz::ThreadCache& real = *reinterpret_cast<const hz::ThreadCache*>(copy);
    EXPECT_EQ(tc, first) << "the pool should hand back the storage the last thread released";
    EXPECT_EQ(real.remote.pending, 0u);
    EXPECT_EQ(real.remote.pending_bytes, 0u);
    unsigned filled = 0;  // the class of p, after its first refill
    for (unsigned c = 1; c < hz::kNumClasses; ++c) {
      EXPECT_EQ(real.spill.n[c], 0u) << "class " << c;
      filled += real.bins[c].count() != 0;
      EXPECT_LE(real.bins[c].max, 2 * hz::kSlowStartMax) << "class " << c << ": slow start again";
    }
    EXPECT_LE(filled, 1u) << "a recycled cache came with blocks in its bins";
    hz_free(p);
    // Stale group keys from the last thread: frees for other destinations reuse the slots.
    churn(foreign, 1000, 2000, 0xB2);
  }).join();
  EXPECT_EQ(hz::live_thread_count(), live_before) << "a worker's cache was not released";

  // Every block the workers freed is usable again, each handed out once.
  std::unordered_set<void*> seen;
  std::vector<Block> again;
  for (int i = 0; i < 20000; ++i) {
    again.push_back(make(kSizes[i % 7], static_cast<unsigned char>(i * 3)));
    ASSERT_TRUE(seen.insert(again.back().p).second) << "a block was handed out twice";
  }
  for (const Block& b : again) {
    ASSERT_TRUE(intact(b)) << "two live blocks overlap";
    hz_free(b.p);
  }
}

// Set-ups, teardowns and sweep tests of threads running at once (TSan's
// lane): 1200 threads, 6 at a time, each freeing what the previous batch
// handed it (remote frees into shards whose threads are gone).
TEST(ThreadLife, ShortThreadsAtOnceHandBlocksOn) {
  constexpr int kWidth = 6, kTotal = 1200, kHand = 16;
  std::vector<std::vector<Block>> hand(kWidth);
  hz_free(hz_malloc(16));  // this thread's cache, set up before counting
  const unsigned live_before = hz::live_thread_count();
  for (int started = 0; started < kTotal; started += kWidth) {
    std::thread ts[kWidth];
    for (int w = 0; w < kWidth; ++w)
      ts[w] = std::thread([&, w, started] {
        for (const Block& b : hand[w]) {
          ASSERT_TRUE(intact(b)) << "a handed-over block was overwritten";
          hz_free(b.p);
        }
        hand[w].clear();
        for (int i = 0; i < kHand; ++i) hand[w].push_back(make(kSizes[(i + started) % 7], static_cast<unsigned char>(i + w)));
      });
    for (auto& t : ts) t.join();
  }
  for (auto& v : hand)
    for (const Block& b : v) {
      ASSERT_TRUE(intact(b));
      hz_free(b.p);
    }
  EXPECT_EQ(hz::live_thread_count(), live_before) << "caches of exited threads were not released";
}

// Kept tables (HZ_TC_KEEP_TABLES): a recycled cache that comes back on the
// shard it last had keeps its size tables and bins' constants. Rounds of 1 to
// 5 threads, so that caches come back on their shard and on others: in each
// thread every size must map to its own class's bin in this thread's bins,
// every block be of its size's class, and a freed block be handed out again
// by the same thread.
struct Sizes {
  bool ok = true;
  char what[160] = {};
};

void check_sizes(Sizes* out) {
  auto fail = [out](const char* why, size_t size, const void* p) {
    if (out->ok) snprintf(out->what, sizeof out->what, "%s: size %zu, block %p", why, size, p);
    out->ok = false;
  };
  for (size_t size = 1; size <= hz::kMaxSmallSize && out->ok; size += size < 1100 ? 1 : size < 40000 ? 37 : 4099) {
    void* p = hz_malloc(size);
    if (!p) return fail("out of memory", size, p);
    static_cast<unsigned char*>(p)[size - 1] = 1;
    const unsigned cls = hz::class_of(size);
    hz::ThreadCache* tc = hz::t_cache;
    if (!tc->counting) {
      hz::Bin* want = &tc->bins[cls];
      hz::Bin* got = size <= hz::kLookupMax ? hz::t_sizes->by_size[hz::size_index(size)] : hz::t_sizes->by_class[cls];
      if (got != want) fail("the size table maps to another bin", size, p);
      if (want->cls != cls || want->key != hz::kTables.key[cls] || want->magic != hz::kDivMagic[cls])
        fail("the bin's constants are not its class's", size, p);
      if (reinterpret_cast<char*>(tc->bins) != hz::t_bins + offsetof(hz::BinRegion, by_owner) + tc->shard * hz::kBinStride)
        fail("the bins are not at the thread's shard", size, p);
    }
    size_t usable = hz_usable_size(p);
    if (hz::kHardened ? usable < size : usable != hz::kClasses[cls].size) fail("a block of another class", size, p);
    hz_free(p);
    void* q = hz_malloc(size);
    if (!hz::kHardened && q != p) fail("a freed block was not handed out again", size, q);  // hardened: quarantined
    hz_free(q);
  }
}

TEST(ThreadLife, RecycledCachesMapEverySizeToItsOwnBin) {
  hz_free(hz_malloc(16));  // this thread's cache and shard first
  std::vector<Sizes> results;
  unsigned same = 0, total = 0;  // threads that got back their cache's last shard
  std::vector<std::pair<hz::ThreadCache*, unsigned>> last;  // cache -> shard it had
  for (int round = 0; round < 120; ++round) {
    const int width = 1 + (round * 7) % 5;
    std::vector<Sizes> res(width);
    std::vector<std::pair<hz::ThreadCache*, unsigned>> got(width);
    std::vector<std::thread> ts;
    for (int w = 0; w < width; ++w)
      ts.emplace_back([&, w] {
        check_sizes(&res[w]);
        got[w] = {hz::t_cache->real, hz::t_cache->real->shard};
      });
    for (auto& t : ts) t.join();
    for (int w = 0; w < width; ++w) {
      ASSERT_TRUE(res[w].ok) << "round " << round << ", thread " << w << ": " << res[w].what;
      ++total;
      for (auto& [tc, shard] : last)
        if (tc == got[w].first) same += shard == got[w].second;
    }
    for (auto& g : got) {
      bool found = false;
      for (auto& l : last)
        if (l.first == g.first) l.second = g.second, found = true;
      if (!found) last.push_back(g);
    }
  }
  printf("%u of %u threads got back a cache on the shard it last had\n", same, total);
  if (hz::kTcKeepTables && !hz::stats::counting()) EXPECT_GT(same, total / 2) << "the test does not reach kept tables";
}

// The thread's first allocation comes in the last round of pthread key
// destructors (glibc runs 4): its cache is never torn down, only swept.
pthread_key_t g_late_key;
void late_dtor(void* v) {
  long round = reinterpret_cast<long>(v);
  if (round < 4) {
    pthread_setspecific(g_late_key, reinterpret_cast<void*>(round + 1));
    return;
  }
  hz_free(hz_malloc(100));
}

void run_threads(int n, void* (*body)(void*), unsigned* max_live) {
  for (int i = 0; i < n; ++i) {
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr, body, nullptr), 0);
    pthread_join(t, nullptr);
    if (max_live && hz::live_thread_count() > *max_live) *max_live = hz::live_thread_count();
  }
}

TEST(ThreadLife, CachesOfGoneThreadsAreSweptAfterALongQuietSpell) {
#if defined(__SANITIZE_THREAD__)
  // TSan finishes a thread in its own last destructor round: instrumented
  // code running after it (our late destructor) crashes TSan itself.
  GTEST_SKIP() << "allocation in the last destructor round: not under ThreadSanitizer";
#endif
  hz_free(hz_malloc(10));  // the allocator's key gets the lower index: its destructor runs first
  ASSERT_EQ(pthread_key_create(&g_late_key, late_dtor), 0);
  // Threads that tear down: every sweep test finds nothing, its interval grows.
  run_threads(600, [](void*) -> void* {
    hz_free(hz_malloc(100));
    return nullptr;
  }, nullptr);
  const unsigned base = hz::live_thread_count();
  // Then every thread leaks its cache.
  unsigned max_live = base;
  run_threads(1000, [](void*) -> void* {
    pthread_setspecific(g_late_key, reinterpret_cast<void*>(1L));
    return nullptr;
  }, &max_live);
  printf("live caches: %u before the leaking threads, at most %u while they ran\n", base, max_live);
  EXPECT_GT(max_live, base) << "no cache was left behind: the test does not reach the leak";
  EXPECT_LE(max_live, base + hz::kSweepGapMax + 16 + 2) << "leaked caches piled up past the sweep interval";
  // A few more set-ups reach the next test, which finds and releases them all.
  run_threads(64, [](void*) -> void* {
    hz_free(hz_malloc(100));
    return nullptr;
  }, nullptr);
  EXPECT_LE(hz::live_thread_count(), base + 1) << "caches of gone threads were not swept";
  pthread_key_delete(g_late_key);
}

}  // namespace
