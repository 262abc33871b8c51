// Size classes: every size maps to the smallest class that holds it; runs
// waste little; the divisibility magic agrees with %.
#include <algorithm>
#include <gtest/gtest.h>

#include "size_class/size_class.h"

using namespace hz;

TEST(SizeClass, EverySizeMapsToSmallestFittingClass) {
  for (size_t s = 0; s <= kMaxSmallSize; ++s) {
    unsigned c = class_of(s);
    ASSERT_GE(c, 1u);
    ASSERT_LT(c, kNumClasses);
    ASSERT_GE(kClasses[c].size, s) << s;
    if (c > 1) ASSERT_LT(kClasses[c - 1].size, s) << s;
  }
}

TEST(SizeClass, SizesAreSixteenByteMultiplesAndGrowByAtMostAQuarter) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    EXPECT_EQ(kClasses[c].size % 16, 0u);
    if (c > 8) EXPECT_LE(kClasses[c].size - kClasses[c - 1].size, kClasses[c - 1].size / 4);
  }
}

TEST(SizeClass, RunsHoldAtLeastOneBlockAndWasteLittle) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    const ClassInfo& ci = kClasses[c];
    size_t bytes = size_t{ci.run_pages} * kPageSize;
    ASSERT_GE(ci.capacity, 1u);
    EXPECT_EQ(ci.capacity, bytes / ci.size);
    EXPECT_LE((bytes - ci.capacity * size_t{ci.size}) * 16, bytes) << "class " << c;
    EXPECT_GE(ci.bin_max, ci.batch);
  }
}

// HZ_BIN_MIN_BYTES: a burst of small blocks freed (glibc's simple benchmark:
// 1600 of 16-64 B) stays in the bin; no bin passes HZ_BIN_MAX_BYTES.
TEST(SizeClass, BinsHoldAtLeastTheFloorAndAtMostTheBound) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    const ClassInfo& ci = kClasses[c];
    const size_t floor_blocks = std::min<size_t>(kBinMinBytes / ci.size, 8192);
    const size_t bound_blocks = std::max<size_t>(kBinMaxBytes / ci.size, 2);
    EXPECT_GE(ci.bin_max, std::min(floor_blocks, bound_blocks)) << "class " << c;
    EXPECT_GE(ci.bin_max, std::min<size_t>(4u * ci.batch, bound_blocks)) << "class " << c;
    EXPECT_LE(ci.bin_max, bound_blocks) << "class " << c;
  }
  if constexpr (kBinMinBytes >= 64 * 1024) EXPECT_GE(kClasses[class_of(16)].bin_max, 1600u);
}

TEST(SizeClass, DivisibilityMagicMatchesModulo) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    uint64_t m = kClasses[c].div_magic;
    for (uint64_t n = 0; n < 600000; n += 1 + n / 97)
      ASSERT_EQ(n * m < m, n % kClasses[c].size == 0) << "class " << c << " n " << n;
  }
}

// HZ_NEAR_POW2_CLASSES: a buffer of a power of two (from 1 KiB) plus a small
// header, the shape of sqlite's page buffers (1032, 4104, 4368 B), fits a
// class at most 1/8 above the power of two, not the next quarter step.
TEST(SizeClass, PowerOfTwoPlusAHeaderWastesAtMostAnEighth) {
  if (!kNearPow2Classes) GTEST_SKIP() << "HZ_NEAR_POW2_CLASSES=0";
  for (size_t p = 1024; p < kMaxSmallSize; p *= 2) {
    for (size_t s : {p + 1, p + 8, p + p / 16, p + p / 8}) {
      size_t block = kClasses[class_of(s)].size;
      EXPECT_LE(block, p + p / 8) << s;
      EXPECT_LE((block - s) * 8, s) << s;
    }
  }
  if (kFineNearClasses) return;  // tested below
  EXPECT_EQ(kClasses[class_of(4104)].size, 4608u);
  EXPECT_EQ(kClasses[class_of(4368)].size, 4608u);
  EXPECT_EQ(kClasses[class_of(1032)].size, 1152u);
}

// HZ_FINE_NEAR_CLASSES: sqlite's three page-buffer sizes waste under 1.6% of
// their block, the runs of the classes holding them under 1/64, and the
// classes below them are untouched.
TEST(SizeClass, FineNearClassesFitSqlitesPageBuffers) {
  if (!kFineNearClasses) GTEST_SKIP() << "HZ_FINE_NEAR_CLASSES=0";
  EXPECT_EQ(kClasses[class_of(1032)].size, 1040u);
  EXPECT_EQ(kClasses[class_of(4104)].size, 4160u);
  EXPECT_EQ(kClasses[class_of(4368)].size, 4416u);
  EXPECT_EQ(kClasses[class_of(1041)].size, 1152u);
  EXPECT_EQ(kClasses[class_of(4417)].size, 4608u);
  EXPECT_EQ(kClasses[class_of(1024)].size, 1024u);
  EXPECT_EQ(kNumClasses, 64u);
  for (size_t s : {1032, 4104, 4368}) {
    const ClassInfo& ci = kClasses[class_of(s)];
    EXPECT_LE((ci.size - s) * 64, s) << s;
    size_t bytes = size_t{ci.run_pages} * kPageSize;
    EXPECT_LE((bytes - ci.capacity * size_t{ci.size}) * 64, bytes) << s;
  }
}
