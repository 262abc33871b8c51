// A.5 — large blocks go back to the OS when freed.
#include <malloc.h>
#include <stdlib.h>

#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"
#include "config.h"

namespace {
constexpr size_t kMiB = size_t(1) << 20;
constexpr size_t kGiB = size_t(1) << 30;
}  // namespace

TEST(Large, OneGiBBlockIsReturnedAfterFree) {
  for (int round = 0; round < 3; ++round) {
    size_t before = hzt::rss_bytes();
    auto* p = static_cast<unsigned char*>(malloc(kGiB));
    ASSERT_NE(p, nullptr) << "malloc(1 GiB) failed, round " << round;
    EXPECT_GE(malloc_usable_size(p), kGiB);
    EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
    memset(p, 0x5c, kGiB);
    hzt::escape(p);
    size_t during = hzt::rss_bytes();
    EXPECT_GE(during, before + kGiB - 64 * kMiB) << "memset did not fault the block in?";
    EXPECT_EQ(p[0], 0x5c);
    EXPECT_EQ(p[kGiB - 1], 0x5c);
    free(p);
    size_t after = hzt::rss_bytes();
    printf("round %d: RSS %zu MiB before, %zu MiB with the block, %zu MiB after free\n", round,
           before / kMiB, during / kMiB, after / kMiB);
    EXPECT_LT(after, before + 64 * kMiB)
        << "round " << round << ": RSS " << (before / kMiB) << " MiB before, "
        << (during / kMiB) << " MiB with the block, " << (after / kMiB) << " MiB after free";
  }
}

TEST(Large, OneGiBCallocIsZeroAndReturned) {
  size_t before = hzt::rss_bytes();
  auto* p = static_cast<unsigned char*>(calloc(1, kGiB));
  ASSERT_NE(p, nullptr);
  // Spot-check zeroes without faulting everything in.
  for (size_t off = 0; off < kGiB; off += 4093 * 1024) EXPECT_EQ(p[off], 0) << off;
  memset(p, 1, 256 * kMiB);
  free(p);
  EXPECT_LT(hzt::rss_bytes(), before + 64 * kMiB);
}

// Freed large blocks are kept for reuse within a bound (large keep,
// docs/boxes.md) and go back after the purge delay: what stays after a round
// is bounded, and rounds do not add up.
TEST(Large, ManyLargeBlocksDoNotAccumulate) {
  size_t before = hzt::rss_bytes();
  size_t first = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<void*> v;
    for (int i = 0; i < 16; ++i) {
      size_t n = (8 + i * 5) * kMiB + i * 4096 + 17;  // 8 .. 83 MiB, odd sizes
      void* p = malloc(n);
      ASSERT_NE(p, nullptr);
      memset(p, i, n);
      v.push_back(p);
    }
    for (void* p : v) free(p);
    size_t after = hzt::rss_bytes();
    if (round == 0) first = after;
    size_t kept = hz::kLargeKeep ? hz::kLargeKeepMaxBytes : 0;
    EXPECT_LT(after, before + kept + 64 * kMiB)
        << "round " << round << ": RSS " << (before / kMiB) << " MiB -> " << (after / kMiB) << " MiB";
    EXPECT_LT(after, first + 64 * kMiB) << "round " << round << ": RSS grew from " << (first / kMiB) << " MiB to "
                                        << (after / kMiB) << " MiB";
  }
}

// A large block grown step by step (a vector's buffer, python's lists) grows
// where it is when the pages after it are free: no copy, and no freed copy
// left dirty. One move at most (the first block may sit in a hole), the
// contents kept through each step and through a move when a block is put
// right after it.
TEST(Large, ReallocGrowsALargeBlockInPlace) {
  if (hz::kHardened) GTEST_SKIP() << "hardened: its own realloc, a guard page after every span";
  size_t size = 512 << 10;
  auto* p = static_cast<unsigned char*>(malloc(size));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < size; i += 4096) p[i] = static_cast<unsigned char>(i >> 12);
  int moves = 0;
  for (; size < 24 * kMiB; size += size / 4) {
    auto* q = static_cast<unsigned char*>(realloc(p, size + size / 4));
    ASSERT_NE(q, nullptr);
    moves += q != p;
    p = q;
    ASSERT_GE(malloc_usable_size(p), size + size / 4);
    for (size_t i = 0; i < size; i += 4096) ASSERT_EQ(p[i], static_cast<unsigned char>(i >> 12)) << i;
    for (size_t i = (size + 4095) & ~size_t{4095}; i < size + size / 4; i += 4096) p[i] = static_cast<unsigned char>(i >> 12);
  }
  EXPECT_LE(moves, 1);  // size: the block's size now
  void* blocker = malloc(size);  // most likely right after p
  auto* q = static_cast<unsigned char*>(realloc(p, 2 * size));
  ASSERT_NE(q, nullptr);
  for (size_t i = 0; i < size; i += 4096) ASSERT_EQ(q[i], static_cast<unsigned char>(i >> 12)) << i;
  free(blocker);
  free(q);
}

// Two buffers grown in turn by 64 KiB, a 300 KB block made after each step
// (placed right after the buffer just moved): without room past a moved
// block, neither could grow in place and each step copied it whole (296
// moves; glibc's mremap moves no bytes).
TEST(Large, ReallocInterleavedWithOtherBlocksMovesRarely) {
  if (hz::kHardened || hz::kReallocRoomPct == 0) GTEST_SKIP() << "no realloc room in this build";
  constexpr size_t kStep = 64 << 10;
  unsigned char* buf[2] = {static_cast<unsigned char*>(malloc(kStep)), static_cast<unsigned char*>(malloc(kStep))};
  ASSERT_TRUE(buf[0] && buf[1]);
  for (int b = 0; b < 2; ++b)
    for (size_t i = 0; i < kStep; i += 4096) buf[b][i] = static_cast<unsigned char>(b);
  std::vector<void*> between;
  int moves = 0;
  for (size_t size = 2 * kStep; size <= 16 * kMiB; size += kStep) {
    for (int b = 0; b < 2; ++b) {
      auto* q = static_cast<unsigned char*>(realloc(buf[b], size));
      ASSERT_NE(q, nullptr);
      moves += q != buf[b];
      buf[b] = q;
      for (size_t i = 0; i + kStep < size; i += 4096) ASSERT_EQ(q[i], static_cast<unsigned char>(b + (i >> 16))) << i;
      for (size_t i = size - kStep; i < size; i += 4096) q[i] = static_cast<unsigned char>(b + (i >> 16));
      between.push_back(malloc(300000));
      ASSERT_NE(between.back(), nullptr);
    }
  }
  EXPECT_LE(moves, 40);
  for (void* v : between) free(v);
  free(buf[0]);
  free(buf[1]);
}

// A buffer read into at its largest, then cut to what it holds: the tail
// goes back (glibc's mremap unmaps it); it stayed resident, inside the block.
TEST(Large, ReallocShrinkGivesTheTailBack) {
  if (hz::kHardened) GTEST_SKIP() << "hardened: its own realloc";
  constexpr size_t kBig = 256 * kMiB, kCut = 96 * kMiB + 123;
  auto* p = static_cast<unsigned char*>(malloc(kBig));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < kBig; i += 4096) p[i] = static_cast<unsigned char>(i >> 12);
  const size_t before = hzt::rss_bytes();
  auto* q = static_cast<unsigned char*>(realloc(p, kCut));
  ASSERT_EQ(q, p) << "a large block shrinks where it is";
  EXPECT_GE(malloc_usable_size(q), kCut);
  EXPECT_LT(malloc_usable_size(q), kCut + 64 * 4096);
  for (size_t i = 0; i < kCut; i += 4096) ASSERT_EQ(q[i], static_cast<unsigned char>(i >> 12)) << i;
  malloc_trim(0);
  EXPECT_LT(hzt::rss_bytes() + 128 * kMiB, before) << "the tail's pages stayed resident";
  // The tail serves others, and the block grows back over what is free.
  void* other = malloc(64 * kMiB);
  ASSERT_NE(other, nullptr);
  free(other);
  q = static_cast<unsigned char*>(realloc(q, 200 * kMiB));
  ASSERT_NE(q, nullptr);
  for (size_t i = 0; i < kCut; i += 4096) ASSERT_EQ(q[i], static_cast<unsigned char>(i >> 12)) << i;
  free(q);
}

// The tail a shrink gave back was never a block: freeing its first page is
// an invalid pointer (it was reported as a double free).
TEST(Large, FreeOfAShrunkBlocksTailIsAnInvalidPointer) {
  if (hz::kHardened) GTEST_SKIP() << "hardened: its own realloc";
  EXPECT_DEATH(
      {
        auto* p = static_cast<unsigned char*>(malloc(64 * kMiB));
        auto* q = static_cast<unsigned char*>(realloc(p, 8 * kMiB));
        if (q != p) abort();
        free(q + malloc_usable_size(q));
      },
      "^hakozuna: free\\(\\): invalid pointer 0x[0-9a-f]+\n?$");
}

TEST(Large, ReallocOfHugeBlockKeepsContents) {
  auto* p = static_cast<unsigned char*>(malloc(64 * kMiB));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < 64 * kMiB; i += 4096) p[i] = static_cast<unsigned char>(i >> 12);
  p = static_cast<unsigned char*>(realloc(p, 512 * kMiB));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < 64 * kMiB; i += 4096)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i >> 12)) << i;
  p = static_cast<unsigned char*>(realloc(p, 3 * kMiB));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < 3 * kMiB; i += 4096)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i >> 12)) << i;
  free(p);
}
