// Free memory is reachable from everywhere (issue 8, point 2): with
// HAKOZUNA_ARENA_SIZE=256M, a live but idle worker holding 200 MB of free
// blocks must not make malloc(100M) in another thread fail.
#include <gtest/gtest.h>
#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "reach_util.h"

namespace {

using reach::Parked;

// Point 2: with a 256 MiB arena, a live but idle worker holding 200 MB of
// free blocks must not make malloc(100M) in another thread fail, nor may
// malloc_trim be needed for it.
TEST(Reach, NoEnomemWhileAnIdleThreadHoldsFreeMemory) {
  for (size_t size : {size_t{64}, size_t{1000}}) {
    const size_t n = (size_t{200} << 20) / size;
    std::vector<void*> blocks(n);
    std::atomic<int> stage{0};
    Parked park;
    std::thread worker([&] {
      for (auto& p : blocks) {
        p = malloc(size);
        ASSERT_NE(p, nullptr);
        memset(p, 1, size);
      }
      for (void* p : blocks) free(p);
      void* few[300];
      for (auto& p : few) p = malloc(size);
      for (void* p : few) free(p);
      stage = 1;
      park.wait();
    });
    while (stage.load() < 1) usleep(1000);
    for (int i = 0; i < 3; ++i) {
      void* big = malloc(size_t{100} << 20);
      EXPECT_NE(big, nullptr) << "malloc(100M) failed (" << strerror(errno) << ") on attempt " << i
                              << " after blocks of " << size << " B";
      if (big) memset(big, 2, size_t{100} << 20);
      free(big);
    }
    park.release();
    worker.join();
  }
}

}  // namespace
