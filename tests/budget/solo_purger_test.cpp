// Issue 8, point 1, in a single-threaded program: what the only thread frees
// and then leaves idle goes back within twice the decay, with no further call
// into the allocator. Before, such a program started no purger (it keeps
// glibc's single-threaded paths) unless it kept a span of 4 MiB or more: one
// that freed 150 MB of 256-byte blocks, or spans of 3.7 MiB between live
// blocks, kept all of it for good. A trivial program still starts no thread.
// Run with HAKOZUNA_PURGE_DELAY_MS=1000; each test is its own process.
#include <gtest/gtest.h>
#include <time.h>

#include <cstring>
#include <vector>

#include "reach_util.h"

namespace {

constexpr unsigned kDelayMs = 1000;

long thread_count() {  // field 20 of /proc/self/stat
  char buf[1024];
  reach::read_proc("/proc/self/stat", buf, sizeof buf);
  const char* p = strrchr(buf, ')');  // the command name may hold spaces
  for (int field = 2; p && field < 20; ++field) p = strchr(p + 1, ' ');
  return p ? strtol(p + 1, nullptr, 10) : -1;
}

void sleep_ms(unsigned ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

// Polls RSS (no allocation) until it falls under limit or twice the delay
// has passed; returns the last reading.
size_t rss_after_idle(size_t limit) {
  size_t now = reach::rss_bytes();
  for (unsigned waited = 0; waited < 2 * kDelayMs && now >= limit; waited += 50) {
    sleep_ms(50);
    now = reach::rss_bytes();
  }
  return now;
}

TEST(SoloPurger, SmallBlocksFreedByTheOnlyThreadGoBack) {
  ASSERT_EQ(thread_count(), 1);
  constexpr size_t kSize = 256, kCount = (size_t{150} << 20) / kSize;
  std::vector<void*> held(kCount);
  for (auto& p : held) {
    p = malloc(kSize);
    ASSERT_NE(p, nullptr);
    memset(p, 0x5A, kSize);
  }
  const size_t peak = reach::rss_bytes();
  for (void* p : held) free(p);
  const size_t after = rss_after_idle(peak / 10);
  EXPECT_LT(after, peak / 10) << "peak " << (peak >> 20) << " MiB, after twice the decay " << (after >> 20) << " MiB";
}

TEST(SoloPurger, SpansFreedBetweenLiveBlocksGoBack) {
  ASSERT_EQ(thread_count(), 1);
  constexpr size_t kSmall = 300 << 10, kBig = (size_t{4} << 20) - kSmall;  // under the purge-at-free size
  void* small[64];
  void* big[64];
  for (int i = 0; i < 64; ++i) {
    small[i] = malloc(kSmall);
    big[i] = malloc(kBig);
    ASSERT_NE(small[i], nullptr);
    ASSERT_NE(big[i], nullptr);
    memset(small[i], 1, kSmall);
    memset(big[i], 2, kBig);
  }
  const size_t peak = reach::rss_bytes();
  for (void* p : big) free(p);
  const size_t live = 64 * kSmall;
  const size_t after = rss_after_idle(live + peak / 10);
  EXPECT_LT(after, live + peak / 10) << "peak " << (peak >> 20) << " MiB, live " << (live >> 20) << " MiB, after twice the decay "
                                     << (after >> 20) << " MiB";
  for (void* p : small) free(p);
}

// The threshold's other side: a program whose heap stays small keeps
// glibc's single-threaded paths (no purger thread).
TEST(SoloPurger, ASmallProgramStartsNoThread) {
  ASSERT_EQ(thread_count(), 1);
  for (int round = 0; round < 50; ++round) {
    std::vector<void*> held;
    for (size_t sz = 16; sz <= (size_t{2} << 20); sz *= 2) {
      held.push_back(malloc(sz));
      memset(held.back(), 3, sz);
    }
    for (void* p : held) free(p);
  }
  sleep_ms(100);
  EXPECT_EQ(thread_count(), 1);
}

}  // namespace
