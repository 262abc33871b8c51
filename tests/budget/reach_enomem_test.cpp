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

#include "config.h"
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

// Free memory in pieces none of which fits a request still serves it: 200
// blocks of 1 MiB fill most of the 256 MiB arena, every other one is freed,
// and 120 MiB in one block must come (the arena's limit counts memory, and
// the freed pieces give theirs back). It got ENOMEM before.
TEST(Reach, FreePiecesServeARequestNoneOfThemFits) {
  if (!hz::kArenaHoles) GTEST_SKIP() << "HZ_ARENA_HOLES=0: such a request gets ENOMEM";
  std::vector<unsigned char*> blocks(200);
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i] = static_cast<unsigned char*>(malloc(1 << 20));
    ASSERT_NE(blocks[i], nullptr) << "block " << i;
    memset(blocks[i], int(i & 255), 4096);
  }
  for (size_t i = 0; i < blocks.size(); i += 2) free(blocks[i]), blocks[i] = nullptr;
  errno = 0;
  auto* big = static_cast<unsigned char*>(malloc(size_t{120} << 20));
  ASSERT_NE(big, nullptr) << "ENOMEM with 100 MiB free in pieces; errno " << errno;
  EXPECT_EQ(errno, 0) << "a malloc that worked changed errno";
  for (size_t off = 0; off < (size_t{120} << 20); off += 4096) big[off] = 1;
  for (size_t i = 1; i < blocks.size(); i += 2)
    for (size_t k = 0; k < 4096; ++k) ASSERT_EQ(blocks[i][k], (unsigned char)(i & 255)) << "block " << i;
  free(big);
  // The pieces are gone for good, the memory is not: 1 MiB blocks fit again.
  for (size_t i = 0; i < blocks.size(); i += 2) {
    blocks[i] = static_cast<unsigned char*>(malloc(1 << 20));
    ASSERT_NE(blocks[i], nullptr) << "block " << i << " after the big one";
    memset(blocks[i], 3, 1 << 20);
  }
  for (unsigned char* b : blocks) free(b);
}

// The same with small pieces: the arena filled with 40 KiB blocks (10-page
// spans) until malloc fails, every other one freed, then 100 KiB blocks
// worth a third of what was freed. Before: 75 of 200 in a 64 MiB arena.
TEST(Reach, SmallFreePiecesServeLargerBlocks) {
  if (!hz::kArenaHoles) GTEST_SKIP() << "HZ_ARENA_HOLES=0: such requests get ENOMEM";
  std::vector<void*> blocks;
  for (;;) {
    void* p = malloc(40 << 10);
    if (!p) break;
    memset(p, 1, 64);
    blocks.push_back(p);
    ASSERT_LT(blocks.size(), size_t{1} << 20) << "the arena's limit never came";
  }
  size_t freed = 0;
  for (size_t i = 0; i < blocks.size(); i += 2) free(blocks[i]), blocks[i] = nullptr, freed += 40 << 10;
  const size_t want = freed / 3 / (100 << 10);
  std::vector<void*> bigger;
  for (size_t i = 0; i < want; ++i) {
    void* p = malloc(100 << 10);
    ASSERT_NE(p, nullptr) << i << " of " << want << " blocks of 100 KiB, with " << (freed >> 10)
                          << " KiB free in 40 KiB pieces";
    memset(p, 2, 100 << 10);
    bigger.push_back(p);
  }
  for (void* p : bigger) free(p);
  for (void* p : blocks) free(p);
}

}  // namespace
