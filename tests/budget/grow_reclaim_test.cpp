// Grow reclaim (HZ_GROW_RECLAIM_BYTES, issue 13 point 6): one thread frees
// 64 MiB of 1000-byte blocks, then allocates 64 MiB of 4000-byte ones. The
// runs the frees emptied go back to the page heap and are carved again for
// the new class, so RSS grows by a fraction of those 64 MiB. Without it the
// decay alone reclaims, only in shards quiet for a whole tick, which this
// busy thread never is: RSS grew by all of it. Run with a long purge delay,
// so that nothing is purged meanwhile.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "config.h"
#include "reach_util.h"

namespace {

std::vector<void*> allocate(size_t total, size_t size) {
  std::vector<void*> v;
  v.reserve(total / size);
  for (size_t i = 0; i < total / size; ++i) {
    void* p = malloc(size);
    if (!p) abort();
    memset(p, 0x5A, size);
    v.push_back(p);
  }
  return v;
}

// bytes of blocks of size `from` allocated and freed, then as many bytes of
// size `to` allocated (and freed after): returns RSS before and after those.
std::pair<size_t, size_t> rss_across_switch(size_t bytes, size_t from, size_t to) {
  std::vector<void*> first = allocate(bytes, from);
  for (void* p : first) free(p);
  const size_t before = reach::rss_bytes();
  std::vector<void*> second = allocate(bytes, to);
  const size_t after = reach::rss_bytes();
  for (void* p : second) free(p);
  return {before, after};
}

}  // namespace

TEST(GrowReclaim, RunsEmptiedInOneClassAreCarvedForAnother) {
  if (hz::kGrowReclaimBytes == 0) GTEST_SKIP() << "HZ_GROW_RECLAIM_BYTES=0";
  constexpr size_t kBytes = size_t{64} << 20;
  auto [before, after] = rss_across_switch(kBytes, 1000, 4000);
  EXPECT_LT(after, before + kBytes / 4) << "RSS " << (before >> 20) << " -> " << (after >> 20) << " MiB";
}

// In a small heap the threshold is an eighth of the mapped peak, at least
// HZ_GROW_RECLAIM_MIN_BYTES: 2 MiB of 4000-byte blocks freed, then 2 MiB of
// 2000-byte ones, grew RSS by all 2 MiB at the fixed 4 MiB threshold (2164
// KiB; now 864), as a short program's RSS was the sum of its classes' peaks
// (GNU ld's link step).
TEST(GrowReclaim, ASmallHeapReclaimsSooner) {
  if (hz::kGrowReclaimBytes == 0 || hz::kGrowReclaimMinBytes == 0) GTEST_SKIP() << "HZ_GROW_RECLAIM_MIN_BYTES=0";
  constexpr size_t kBytes = size_t{2} << 20;
  auto [before, after] = rss_across_switch(kBytes, 4000, 2000);
  EXPECT_LT(after, before + kBytes * 3 / 4) << "RSS " << (before >> 10) << " -> " << (after >> 10) << " KiB";
}
