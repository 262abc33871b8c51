// The exhaustion sequence waits (up to 31 ms of sleeps) for other threads to
// honour its flush request only where that can help: another thread holds a
// cache, and what a cache can hold at most covers what is missing. A failing
// malloc in a single-threaded program, or one far beyond what all caches can
// hold, fails at once (glibc fails in microseconds; a loop of failing calls
// took 31 ms each). Counted by exhaustion_wait (HAKOZUNA_STATS=1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cache/thread_cache.h"
#include "reach_util.h"
#include "stats/stats.h"

namespace {

uint64_t waits() { return hz::stats::g_counters[hz::stats::kExhaustionWait].load(); }

std::vector<void*> fill_with_mib_blocks() {
  std::vector<void*> held;
  held.reserve(4096);
  while (void* p = malloc(size_t{1} << 20)) held.push_back(p);
  return held;
}

TEST(ExhaustionWait, NoWaitWithoutAnotherThread) {
  ASSERT_TRUE(hz::stats::counting()) << "run with HAKOZUNA_STATS=1";
  std::vector<void*> held = fill_with_mib_blocks();
  ASSERT_GT(held.size(), 8u);
  const uint64_t before = waits();
  for (size_t size : {size_t{8} << 20, size_t{2} << 20, size_t{64} << 20}) EXPECT_EQ(malloc(size), nullptr) << size;
  EXPECT_EQ(waits(), before) << "a single thread waited for flushes nobody could make";
  for (void* p : held) free(p);
}

TEST(ExhaustionWait, WaitsOnlyWhereAnotherCacheCouldCoverTheRequest) {
  ASSERT_TRUE(hz::stats::counting()) << "run with HAKOZUNA_STATS=1";
  reach::Parked park;
  std::atomic<bool> ready{false};
  std::thread other([&] {
    free(malloc(64));  // a live cache
    ready = true;
    park.wait();
  });
  while (!ready) usleep(1000);
  std::vector<void*> held = fill_with_mib_blocks();
  ASSERT_GT(held.size(), 8u);
  uint64_t before = waits();
  const size_t beyond = hz::kThreadKeepMaxPages * hz::kPageSize + (size_t{8} << 20);
  EXPECT_EQ(malloc(beyond), nullptr);
  EXPECT_EQ(waits(), before) << "waited for a cache that could never hold " << beyond << " bytes";
  EXPECT_EQ(malloc(size_t{2} << 20), nullptr);
  EXPECT_GT(waits(), before) << "no wait for another thread's flush that could have covered 2 MiB";
  park.release();
  other.join();
  for (void* p : held) free(p);
}

}  // namespace
