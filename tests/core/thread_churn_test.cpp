// Thread churn (docs/boxes.md, "Thread churn"): a thread cache recycled from
// the pool starts as empty as a fresh one and loses no block; caches of
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
