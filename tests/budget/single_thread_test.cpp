// A single-threaded program keeps glibc's single-threaded paths: no thread of
// ours starts for small blocks, however many it frees. The first thread
// switches stdio to locked calls and libstdc++'s shared_ptr to atomic counts
// for good (a break-it helper measured putc 7x and shared_ptr copies 3.3x
// slower once a purger started beside 48 MiB freed), and a sandbox that
// forbids clone killed the program at the free that started it; so the
// purger for single-threaded programs was dropped (docs/boxes.md "A purger
// for single-threaded programs: NO-GO"). What such a program frees goes back
// through the decay its own allocator calls run, as glibc keeps its freed
// small blocks. Each test is its own process; delay 1000 ms.
#include <gtest/gtest.h>
#include <time.h>

#include <cstring>
#include <vector>

#include "reach_util.h"

namespace {

void sleep_ms(unsigned ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

TEST(SingleThread, ASmallProgramStartsNoThread) {
  ASSERT_EQ(reach::thread_count(), 1);
  for (int round = 0; round < 50; ++round) {
    std::vector<void*> held;
    for (size_t sz = 16; sz <= (size_t{2} << 20); sz *= 2) {
      held.push_back(malloc(sz));
      memset(held.back(), 3, sz);
    }
    for (void* p : held) free(p);
  }
  sleep_ms(100);
  EXPECT_EQ(reach::thread_count(), 1);
}

// 150 MB of 256-byte blocks, freed (the dropped box started its purger here).
TEST(SingleThread, ManySmallBlocksFreedStartNoThread) {
  ASSERT_EQ(reach::thread_count(), 1);
  constexpr size_t kSize = 256, kCount = (size_t{150} << 20) / kSize;
  std::vector<void*> held(kCount);
  for (auto& p : held) {
    p = malloc(kSize);
    ASSERT_NE(p, nullptr);
    memset(p, 0x5A, kSize);
  }
  for (void*& p : held) free(p), p = nullptr;
  sleep_ms(200);
  for (int i = 0; i < 1000; ++i) free(malloc(64));  // more slow paths: the decay runs from them
  EXPECT_EQ(reach::thread_count(), 1);
}

}  // namespace
